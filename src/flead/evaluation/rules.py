"""The simple baseline: physical range rules plus a per-device rolling z-score per channel (numpy)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flead.evaluation.budget import per_device
from flead.evaluation.events import device_order

__all__ = ["RANGES", "RULE_SCORE", "WINDOW", "RulesResult", "rolling_z", "rules_zscore"]

RANGES = {"temperature": (-10.0, 60.0), "humidity": (0.0, 100.0), "voltage": (1.8, 3.6)}
RULE_SCORE = 1e6  # a broken rule outranks every z-score
WINDOW = 60  # past rows of the device in the rolling mean and sd (~30 min at 31 s)
SD_FLOOR = 0.1  # the rolling sd is at least this share of the channel's warm-up sd


@dataclass(frozen=True)
class RulesResult:
    """Per input row: score, the z-score threshold in force, the alarm flag (rule or z)."""

    score: np.ndarray
    threshold: np.ndarray
    anomaly: np.ndarray


def _starts(codes: np.ndarray) -> np.ndarray:
    """Per device-ordered position: position of its device's first row."""
    first = np.concatenate(([True], codes[1:] != codes[:-1]))
    return np.flatnonzero(first)[np.cumsum(first) - 1]


def rolling_z(codes: np.ndarray, x: np.ndarray, window: int, warm: np.ndarray) -> np.ndarray:
    """|x - mean| / sd of each channel over the device's previous `window` rows (device-ordered
    arrays; the current row excluded, gaps skipped); 0 where a value or its history is missing.
    The sd is floored by SD_FLOOR x the sd of the device's warm-up rows (`warm` mask)."""
    n, c = x.shape
    ok = ~np.isnan(x)
    v = np.where(ok, x, 0.0)
    zero = np.zeros((1, c))
    s1 = np.vstack([zero, np.cumsum(v, axis=0)])
    s2 = np.vstack([zero, np.cumsum(v * v, axis=0)])
    cnt = np.vstack([zero, np.cumsum(ok, axis=0)])
    pos = np.arange(n)
    start = _starts(codes)
    lo = np.maximum(pos - window, start)
    k = cnt[pos] - cnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (s1[pos] - s1[lo]) / k
        var = np.maximum((s2[pos] - s2[lo]) / k - mean * mean, 0.0)
        floor = _warm_sd(codes, x, warm) * SD_FLOOR
        sd = np.maximum(np.sqrt(var), np.maximum(floor, 1e-6))
        z = np.abs(x - mean) / sd
    return np.where(ok & (k >= 2), z, 0.0)


def _warm_sd(codes: np.ndarray, x: np.ndarray, warm: np.ndarray) -> np.ndarray:
    """Per position: the sd of its device's warm-up rows, per channel (0 if none)."""
    m = int(codes.max()) + 1 if len(codes) else 0
    sd = np.zeros((m, x.shape[1]))
    for j in range(x.shape[1]):  # per channel: three bincounts
        ok = ~np.isnan(x[:, j]) & warm
        v = np.where(ok, x[:, j], 0.0)
        n = np.bincount(codes, ok, m)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(codes, v, m) / n
            sd[:, j] = np.sqrt(np.maximum(np.bincount(codes, v * v, m) / n - mean * mean, 0.0))
    return np.nan_to_num(sd)[codes]


def rules_zscore(
    device: np.ndarray,
    time: np.ndarray,
    values: np.ndarray,
    features: Sequence[str],
    budget: float,
    warmup_fraction: float,
) -> RulesResult:
    """Score = RULE_SCORE + overshoot when a reading leaves its physical range, else the largest
    rolling z-score of its channels. Alarm = a broken rule, or a z-score above the device's
    budget threshold (`flead.evaluation.budget`), which is fitted on z-scores only."""
    order = device_order(device, time)
    ids = np.asarray(device).astype(str)[order]
    _, codes = np.unique(ids, return_inverse=True)
    x = np.asarray(values, dtype=np.float64)[order]
    rank = np.arange(len(codes)) - _starts(codes)
    per = np.bincount(codes)
    warm = rank < np.ceil(warmup_fraction * per[codes])
    z = rolling_z(codes, x, WINDOW, warm).max(axis=1, initial=0.0)
    over = np.zeros(len(codes))
    for j, name in enumerate(features):
        if name in RANGES:
            lo, hi = RANGES[name]
            col = x[:, j]
            with np.errstate(invalid="ignore"):
                over = np.maximum(over, np.nan_to_num(np.maximum(lo - col, col - hi), nan=0.0))
    broken = over > 0
    score_d = np.where(broken, RULE_SCORE + over, z)
    thr_d = per_device(ids, np.asarray(time)[order], z, budget, warmup_fraction, WINDOW)
    n = len(codes)
    score, thr, alarm = np.empty(n), np.empty(n), np.empty(n, dtype=bool)
    score[order], thr[order], alarm[order] = score_d, thr_d, broken | (z > thr_d)
    return RulesResult(score.astype(np.float32), thr.astype(np.float32), alarm)
