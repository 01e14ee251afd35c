"""Per-feature scaling of one device's rows for the River baselines, fitted on its warm-up."""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["causal_minmax", "fill_forward", "prefix_minmax", "prefix_standard", "with_missing"]


def fill_forward(x: np.ndarray, before: float) -> np.ndarray:
    """Gaps repeat the channel's last value (River's `PreviousImputer`); `before` before any."""
    missing = np.isnan(x)
    idx = np.maximum.accumulate(np.where(~missing, np.arange(len(x))[:, None], -1), axis=0)
    filled = np.take_along_axis(x, np.maximum(idx, 0), axis=0)
    return np.where(idx >= 0, filled, before)


def with_missing(scaled: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`scaled` plus one 0/1 column per channel: was the raw value missing (a gap is evidence)."""
    return np.hstack([scaled, np.isnan(values).astype(np.float64)])


def causal_minmax(values: np.ndarray) -> np.ndarray:
    """Rows min-max scaled by the running min/max up to each row; gaps filled forward.

    (The old River idiom, kept for comparison: one 122 °C reading squashes every later row.)
    """
    x = np.asarray(values, dtype=np.float64)
    lo = np.fmin.accumulate(x, axis=0)
    hi = np.fmax.accumulate(x, axis=0)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), 0.5)
    return fill_forward(np.where(np.isnan(x), np.nan, scaled), 0.5)


def prefix_minmax(values: np.ndarray, prefix: int) -> np.ndarray:
    """Rows scaled by the min/max of the first `prefix` rows (the warm-up): fixed known ranges.

    Later values may fall outside [0, 1]; HalfSpaceTrees then walks them to its outermost
    leaves. Gaps are filled forward.
    """
    x = np.asarray(values, dtype=np.float64)
    head = x[: max(prefix, 1)]
    with warnings.catch_warnings():  # an all-missing channel: 0 below
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(head, axis=0), np.nanmax(head, axis=0)
    lo, hi = np.nan_to_num(lo), np.nan_to_num(hi)
    span = np.where(hi > lo, hi - lo, 1.0)
    return fill_forward((x - lo) / span, 0.5)


def prefix_standard(values: np.ndarray, prefix: int) -> np.ndarray:
    """Rows standardised by the mean and sd of the first `prefix` rows (the warm-up); gaps filled
    forward (0 before any value)."""
    x = np.asarray(values, dtype=np.float64)
    head = x[: max(prefix, 1)]
    with warnings.catch_warnings():  # an all-missing channel: 0 below
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, sd = np.nanmean(head, axis=0), np.nanstd(head, axis=0)
    mean = np.nan_to_num(mean)
    sd = np.where(np.nan_to_num(sd) > 0, np.nan_to_num(sd), 1.0)
    return fill_forward((x - mean) / sd, 0.0)
