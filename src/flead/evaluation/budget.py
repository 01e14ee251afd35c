"""The baselines' label-free, causal threshold that targets a false-alarm budget per device-day."""

from __future__ import annotations

import numpy as np

__all__ = ["BLOCK", "budget_quantile", "budget_threshold", "per_device"]

BLOCK = 250  # rows between threshold refreshes (River HST's default window)
DAY = 86400.0


def budget_quantile(budget: float, rows_per_day: float) -> float:
    """The score quantile whose exceedances are `budget` rows per day: 1 - budget / rows_per_day."""
    return float(np.clip(1.0 - budget / max(rows_per_day, 1.0), 0.5, 1.0))


def budget_threshold(
    score: np.ndarray,
    time: np.ndarray,
    budget: float,
    warmup: int,
    settle: int = 0,
    block: int = BLOCK,
) -> np.ndarray:
    """One device's thresholds (rows in time order): +inf during its first `warmup` rows (and
    until `block` rows after the detector's own start-up of `settle` rows, whose scores are
    left out), then at each block of `block` rows the `budget_quantile` of the device's earlier
    settled scores, rows per day estimated from the rows and stream time seen so far. Never
    sees a label."""
    s = np.asarray(score, dtype=np.float64)
    t = np.asarray(time, dtype=np.float64)
    n = len(s)
    thr = np.full(n, np.inf)
    first = max(int(warmup), settle + block, 1)
    for start in range(first, n, block):
        span_days = (t[start - 1] - t[0]) / DAY
        rate = start / span_days if span_days > 0 else float(start)
        thr[start : start + block] = np.quantile(s[settle:start], budget_quantile(budget, rate))
    return thr


def per_device(
    device: np.ndarray,
    time: np.ndarray,
    score: np.ndarray,
    budget: float,
    warmup_fraction: float,
    settle: int = 0,
) -> np.ndarray:
    """`budget_threshold` of every device's rows (rows of one device in time order), per input row."""
    ids = np.asarray(device).astype(str)
    thr = np.full(len(ids), np.inf)
    for d in np.unique(ids):
        rows = np.flatnonzero(ids == d)
        warm = int(np.ceil(warmup_fraction * len(rows)))
        thr[rows] = budget_threshold(score[rows], time[rows], budget, warm, settle)
    return thr
