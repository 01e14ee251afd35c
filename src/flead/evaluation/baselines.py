"""The baseline a user would pick instead: River `HalfSpaceTrees` per device, prequential."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

__all__ = [
    "HST_QUANTILE",
    "HstResult",
    "causal_minmax",
    "causal_threshold",
    "hst_scores",
    "river_hst",
]

HST_QUANTILE = 0.99  # alarm when the score exceeds this quantile of the device's past scores
MIN_ROWS_PER_WORKER = 20_000
HST_WINDOW = 250  # HalfSpaceTrees' default reference window; thresholds refresh at this pace


@dataclass(frozen=True)
class HstResult:
    """Per input row: HST score, the causal threshold in force, the alarm flag."""

    score: np.ndarray
    threshold: np.ndarray
    anomaly: np.ndarray


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


def causal_threshold(
    score: np.ndarray, q: float = HST_QUANTILE, block: int = HST_WINDOW
) -> np.ndarray:
    """Per row: the q-quantile of the device's scores before the current block (+inf in the first)."""
    s = np.asarray(score, dtype=np.float64)
    thr = np.full(len(s), np.inf)
    for start in range(block, len(s), block):
        thr[start : start + block] = np.quantile(s[:start], q)
    return thr


def hst_scores(scaled: np.ndarray, seed: int) -> np.ndarray:
    """Prequential HalfSpaceTrees (River defaults) over one device's scaled rows: score, then learn."""
    from river.anomaly import HalfSpaceTrees  # optional dependency: load lazily

    model = HalfSpaceTrees(seed=seed)
    keys = range(scaled.shape[1])
    out = np.empty(len(scaled), dtype=np.float64)
    for i, row in enumerate(scaled.tolist()):
        x = dict(zip(keys, row, strict=True))
        out[i] = model.score_one(x)
        model.learn_one(x)
    return out


def _device_job(values: np.ndarray, seed: int, prefix: float | None) -> np.ndarray:
    if prefix is None:
        return hst_scores(causal_minmax(values), seed)
    return hst_scores(prefix_minmax(values, int(np.ceil(prefix * len(values)))), seed)


def river_hst(
    device: np.ndarray,
    values: np.ndarray,
    seed: int = 0,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    ranges_from: float | None = None,
) -> HstResult:
    """HST per device over time-ordered rows, devices spread over `workers` processes.

    Features are min-max scaled by the running min/max (River's `MinMaxScaler` idiom) or, with
    `ranges_from`, by the min/max of that share of each device's first rows (its warm-up).
    `progress` receives the number of rows of each device as it finishes.
    """
    try:
        import river  # noqa: F401
    except ImportError as exc:
        raise ValueError("mode river_hst needs River: pip install river==0.22.0") from exc
    ids = np.asarray(device).astype(str)
    groups = [np.flatnonzero(ids == d) for d in np.unique(ids)]
    score = np.zeros(len(ids), dtype=np.float64)
    threshold = np.full(len(ids), np.inf)
    # a worker process costs ~1 s to start: only worth it for tens of thousands of rows each
    useful = -(-len(ids) // MIN_ROWS_PER_WORKER)
    workers = max(1, min(workers or os.cpu_count() or 1, len(groups), useful))

    def done(rows: np.ndarray, s: np.ndarray) -> None:
        score[rows], threshold[rows] = s, causal_threshold(s)
        if progress:
            progress(len(rows))

    if workers == 1:
        for rows in groups:
            done(rows, _device_job(values[rows], seed, ranges_from))
    else:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = {
                pool.submit(_device_job, values[rows], seed, ranges_from): rows for rows in groups
            }
            for future in as_completed(futures):
                done(futures[future], future.result())
    return HstResult(score.astype(np.float32), threshold.astype(np.float32), score > threshold)
