"""The baseline a user would pick instead: River `HalfSpaceTrees` per device, prequential."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from flead.evaluation.scaling import causal_minmax, prefix_minmax

__all__ = ["HST_QUANTILE", "HstJob", "HstResult", "causal_threshold", "hst_scores", "river_hst"]

HST_QUANTILE = 0.99  # alarm when the score exceeds this quantile of the device's past scores
MIN_ROWS_PER_WORKER = 20_000
HST_WINDOW = 250  # HalfSpaceTrees' default reference window; thresholds refresh at this pace


@dataclass(frozen=True)
class HstResult:
    """Per input row: HST score, the causal threshold in force, the alarm flag."""

    score: np.ndarray
    threshold: np.ndarray
    anomaly: np.ndarray
    seconds: float = 0.0  # wall time from the start of the job to its last device


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


@dataclass(frozen=True)
class _Report:
    """Done-callback of one device's future: report its rows to `progress`."""

    progress: Callable[[int], None]
    rows: int

    def __call__(self, _future: Future[np.ndarray]) -> None:
        self.progress(self.rows)


class HstJob:
    """River HST per device, started at once in `workers` processes; `result()` collects it.

    Starting the job before the FLEAD modes run lets the baseline use the other core meanwhile.
    `progress` receives the number of rows of each device as it finishes (from a pool thread).
    """

    def __init__(
        self,
        device: np.ndarray,
        values: np.ndarray,
        seed: int = 0,
        workers: int | None = None,
        progress: Callable[[int], None] | None = None,
        ranges_from: float | None = None,
    ) -> None:
        try:
            import river  # noqa: F401
        except ImportError as exc:
            raise ValueError("mode river_hst needs River: pip install river==0.22.0") from exc
        self.started = self.finished = time.perf_counter()
        ids = np.asarray(device).astype(str)
        self.n = len(ids)
        self.groups = [np.flatnonzero(ids == d) for d in np.unique(ids)]
        self.values, self.seed, self.ranges_from, self.progress = (
            values,
            seed,
            ranges_from,
            progress,
        )
        # a worker process costs ~1 s to start: only worth it for tens of thousands of rows each
        useful = -(-self.n // MIN_ROWS_PER_WORKER)
        self.workers = max(1, min(workers or os.cpu_count() or 1, len(self.groups), useful))
        self.pool: ProcessPoolExecutor | None = None
        self.futures: list[Future[np.ndarray]] = []
        if self.workers > 1:
            ctx = multiprocessing.get_context("spawn")  # never fork a process that has threads
            self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
            for rows in self.groups:
                future = self.pool.submit(_device_job, values[rows], seed, ranges_from)
                future.add_done_callback(self._done)
                if progress:
                    future.add_done_callback(_Report(progress, len(rows)))
                self.futures.append(future)

    def _done(self, _future: Future[np.ndarray]) -> None:
        self.finished = max(self.finished, time.perf_counter())

    def result(self) -> HstResult:
        """Wait for every device; scores, causal thresholds and alarms per input row."""
        score = np.zeros(self.n, dtype=np.float64)
        threshold = np.full(self.n, np.inf)
        for i, rows in enumerate(self.groups):
            if self.pool is None:
                s = _device_job(self.values[rows], self.seed, self.ranges_from)
                self.finished = time.perf_counter()
                if self.progress:
                    self.progress(len(rows))
            else:
                s = self.futures[i].result()
            score[rows], threshold[rows] = s, causal_threshold(s)
        if self.pool is not None:
            self.pool.shutdown()
        return HstResult(
            score.astype(np.float32), threshold.astype(np.float32), score > threshold,
            self.finished - self.started,
        )  # fmt: skip


def river_hst(
    device: np.ndarray,
    values: np.ndarray,
    seed: int = 0,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    ranges_from: float | None = None,
) -> HstResult:
    """HST per device over time-ordered rows (see `HstJob`), run to completion.

    Features are min-max scaled by the running min/max (River's `MinMaxScaler` idiom) or, with
    `ranges_from`, by the min/max of that share of each device's first rows (its warm-up).
    """
    return HstJob(device, values, seed, workers, progress, ranges_from).result()
