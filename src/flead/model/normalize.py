"""Per-device adaptive statistics: exponentially weighted moments updated once per micro-batch."""

from __future__ import annotations

import numpy as np

__all__ = ["ema_weight", "group_sums", "scale", "update_moments", "update_rate"]


def ema_weight(k: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """Weight of a batch of k new samples after n old ones: a running mean first, then an EMA."""
    k = np.asarray(k, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        warm = np.where(k > 0, k / np.maximum(n + k, 1.0), 0.0)
    return np.maximum(1.0 - (1.0 - alpha) ** k, warm)


def group_sums(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums over contiguous row groups beginning at `starts` (rows sorted by group)."""
    if x.shape[0] == 0:
        return np.zeros((0, *x.shape[1:]), dtype=x.dtype)
    return np.add.reduceat(x, starts, axis=0)


def update_moments(
    mean: np.ndarray, var: np.ndarray, k: np.ndarray, s1: np.ndarray, s2: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """EMA mean/variance after a batch with k samples, sum s1, sum of squares s2, batch weight w.

    Where k == 0 the old statistics are kept.
    """
    kk = np.maximum(k, 1.0)
    batch_mean = s1 / kk
    batch_var = np.maximum(s2 / kk - batch_mean * batch_mean, 0.0)
    shift = batch_mean - mean
    new_mean = mean + w * shift
    new_var = (1.0 - w) * (var + w * shift * shift) + w * batch_var
    keep = k <= 0
    return np.where(keep, mean, new_mean), np.where(keep, var, new_var)


def update_rate(rate: np.ndarray, k: np.ndarray, hits: np.ndarray, w: np.ndarray) -> np.ndarray:
    """EMA of a frequency: hits out of k trials this batch, batch weight w (kept where k == 0)."""
    return np.where(k > 0, rate + w * (hits / np.maximum(k, 1.0) - rate), rate)


def scale(
    var: np.ndarray, mean: np.ndarray, quantum: np.ndarray, rel_floor: float = 1e-2
) -> np.ndarray:
    """Standard deviation floored by the value's resolution and a fraction of its level.

    A channel that sat constant (voltage between steps, light in the dark) stays finite.
    """
    floor = np.maximum(rel_floor * (np.abs(mean) + 1.0), np.where(np.isfinite(quantum), quantum, 0))
    return np.maximum(np.sqrt(var), floor)
