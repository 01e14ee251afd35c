"""Min-max scaling of one device's rows for HalfSpaceTrees, causal or from known ranges."""

from __future__ import annotations

import numpy as np

__all__ = ["causal_minmax", "prefix_minmax"]


def causal_minmax(values: np.ndarray) -> np.ndarray:
    """One device's rows min-max scaled by the running min/max up to each row; gaps filled forward.

    A missing value repeats the device's last scaled value of that channel (0.5 before any),
    the way River's `PreviousImputer` would; a constant channel scales to 0.5.
    """
    x = np.asarray(values, dtype=np.float64)
    lo = np.fmin.accumulate(x, axis=0)
    hi = np.fmax.accumulate(x, axis=0)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), 0.5)
    missing = np.isnan(x)
    idx = np.where(~missing, np.arange(len(x))[:, None], -1)
    idx = np.maximum.accumulate(idx, axis=0)
    filled = np.take_along_axis(scaled, np.maximum(idx, 0), axis=0)
    return np.where(idx >= 0, filled, 0.5)


def prefix_minmax(values: np.ndarray, prefix: int) -> np.ndarray:
    """One device's rows scaled by the min/max of its first `prefix` rows (fixed "known ranges").

    Later values may fall outside [0, 1]; HalfSpaceTrees then walks them to its outermost
    leaves. Gaps are filled forward as in `causal_minmax`.
    """
    x = np.asarray(values, dtype=np.float64)
    head = x[: max(prefix, 1)]
    with np.errstate(invalid="ignore"):
        lo, hi = np.nanmin(head, axis=0), np.nanmax(head, axis=0)
    lo, hi = np.nan_to_num(lo), np.nan_to_num(hi)
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = (x - lo) / span
    missing = np.isnan(x)
    idx = np.maximum.accumulate(np.where(~missing, np.arange(len(x))[:, None], -1), axis=0)
    filled = np.take_along_axis(scaled, np.maximum(idx, 0), axis=0)
    return np.where(idx >= 0, filled, 0.5)
