"""Vectorised per-device sequence features: time of day, previous observed value, run lengths."""

from __future__ import annotations

import numpy as np

__all__ = ["DAY", "group_rows", "previous_observed", "segmented_run", "time_features"]

DAY = 86400.0
TIME_FEATURES = 4


def time_features(time: np.ndarray) -> np.ndarray:
    """[n, 4] float32: sin/cos of the time of day and of its second harmonic (time in seconds)."""
    phase = (np.asarray(time, dtype=np.float64) % DAY) * (2.0 * np.pi / DAY)
    return np.stack(
        [np.sin(phase), np.cos(phase), np.sin(2 * phase), np.cos(2 * phase)], axis=1
    ).astype(np.float32)


def group_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stable grouping of rows by integer key.

    Returns (order, group of each sorted row, position of each sorted row inside its group,
    start offset of each group in the sorted order). Group g is the g-th distinct key ascending.
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    n = len(keys)
    new = np.ones(n, dtype=bool)
    new[1:] = sorted_keys[1:] != sorted_keys[:-1]
    starts = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    position = np.arange(n) - starts[group]
    return order, group, position, starts


def previous_observed(x: np.ndarray, row_start: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Per row and channel, the last non-NaN value strictly before it in its group, else `seed`.

    x [n, F] sorted by group; row_start [n] the first row of each row's group; seed [n, F].
    """
    n, f = x.shape
    idx = np.where(np.isnan(x), -1, np.arange(n)[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    prev = np.empty_like(idx)
    prev[0] = -1
    prev[1:] = idx[:-1]
    inside = prev >= row_start[:, None]
    picked = x[np.maximum(prev, 0), np.arange(f)[None, :]]
    return np.where(inside, picked, seed)


def segmented_run(
    inc: np.ndarray, brk: np.ndarray, row_start: np.ndarray, seed: np.ndarray
) -> np.ndarray:
    """Per row and channel: rows with `inc` since the last `brk` row (inclusive of this row).

    Without a `brk` row earlier in the group, the count continues from `seed` [n, F] (the
    device's run carried over from previous batches). inc/brk [n, F] bool, sorted by group.
    """
    n = inc.shape[0]
    csum = np.zeros((n + 1, inc.shape[1]), dtype=np.int64)
    np.cumsum(inc, axis=0, out=csum[1:])
    last = np.where(brk, np.arange(n)[:, None], -1)
    np.maximum.accumulate(last, axis=0, out=last)
    in_group = last >= row_start[:, None]
    since_break = csum[1:] - np.take_along_axis(csum, np.maximum(last, 0) + 1, axis=0)
    since_start = seed + csum[1:] - csum[row_start]
    return np.where(in_group, since_break, since_start)
