"""Alarm episodes: the fewest windows of `gap` seconds that cover a device's alarmed rows."""

from __future__ import annotations

import numpy as np

__all__ = ["EPISODE_SECONDS", "episode_counts"]

EPISODE_SECONDS = 300.0  # alarms of one device within 5 minutes of each other are one episode


def _next_outside(codes: np.ndarray, time: np.ndarray, gap: float) -> np.ndarray:
    """Per alarm: index of the first later alarm of its device at least `gap` s later (n if none)."""
    n = len(codes)
    t = np.asarray(time, dtype=np.float64)
    first = np.concatenate(([True], codes[1:] != codes[:-1]))
    block = np.cumsum(first) - 1
    start_t = t[first][block]
    span = float(np.max(t - start_t)) if n else 0.0
    key = (t - start_t) + block * (span + 2.0 * gap + 1.0)  # devices far apart on one axis
    nxt = np.searchsorted(key, key + gap, side="left")
    nxt[(nxt < n) & (block[np.minimum(nxt, n - 1)] != block)] = n
    return nxt


def episode_counts(
    codes: np.ndarray,
    time: np.ndarray,
    mask: np.ndarray,
    n_devices: int,
    gap: float = EPISODE_SECONDS,
) -> np.ndarray:
    """Episodes per device code among the rows where `mask` holds (arrays in device-time order).

    An episode opens at the first alarm not yet covered and covers every alarm of the device
    less than `gap` seconds after it; the greedy count is the fewest `gap`-long windows that
    cover all the alarms, so removing alarms (raising the threshold) never adds an episode.
    (Chaining alarms whose *neighbours* are within `gap` would not be monotone: dropping the
    middle alarm of 0, 4, 8 minutes splits one episode in two.) Vectorised by pointer doubling.
    """
    out = np.zeros(n_devices, dtype=np.int64)
    idx = np.flatnonzero(np.asarray(mask, dtype=bool))
    if not len(idx):
        return out
    c, t = np.asarray(codes)[idx], np.asarray(time, dtype=np.float64)[idx]
    n = len(idx)
    jump = np.append(_next_outside(c, t, gap), n)  # sentinel n jumps to itself
    count = np.append(np.ones(n, dtype=np.int64), 0)
    while (jump[:n] < n).any():
        count = count + count[jump]
        jump = jump[jump]
    heads = np.flatnonzero(np.concatenate(([True], c[1:] != c[:-1])))
    out[c[heads]] = count[heads]
    return out
