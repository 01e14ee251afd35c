"""The River baselines a user would pick instead (HalfSpaceTrees, LODA), per device, in workers."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from flead.evaluation.budget import per_device
from flead.evaluation.scaling import prefix_minmax, prefix_standard, with_missing

__all__ = ["RIVER_PIN", "BaselineResult", "RiverJob", "river_scores"]

RIVER_PIN = "river==0.26.1"
MIN_ROWS_PER_WORKER = 20_000
SETTLE = {"river_hst": 250, "river_loda": 0}  # rows before a detector's scores mean anything
LODA_CUTS = (
    20  # River's default 100 was 5x slower for AUC-PR 0.040 vs 0.043 (seed 1, 4 devices, 2 days)
)


@dataclass(frozen=True)
class BaselineResult:
    """Per input row: score, the budget threshold in force, the alarm flag; wall seconds."""

    score: np.ndarray
    threshold: np.ndarray
    anomaly: np.ndarray
    seconds: float = 0.0


def _detector(kind: str, seed: int) -> object:
    from river import anomaly  # optional dependency: load lazily

    if kind == "river_hst":
        return anomaly.HalfSpaceTrees(seed=seed)  # River's defaults: 10 trees, height 8, window 250
    if kind == "river_loda":
        return anomaly.LODA(n_random_cuts=LODA_CUTS, seed=seed)
    raise ValueError(f"unknown River baseline {kind!r}")


def scaled(kind: str, values: np.ndarray, warm: int) -> np.ndarray:
    """One device's features as the detector wants them, fitted on its `warm` first rows:
    HST min-max by the warm-up ranges, LODA standardised; gaps filled forward, plus a 0/1
    missing indicator per channel."""
    x = np.asarray(values, dtype=np.float64)
    base = prefix_minmax(x, warm) if kind == "river_hst" else prefix_standard(x, warm)
    return with_missing(base, x)


def river_scores(kind: str, values: np.ndarray, seed: int, warm: int) -> np.ndarray:
    """Prequential River detector over one device's rows: score_one, then learn_one."""
    model = _detector(kind, seed)
    rows = scaled(kind, values, warm)
    keys = range(rows.shape[1])
    out = np.empty(len(rows), dtype=np.float64)
    score, learn = model.score_one, model.learn_one  # type: ignore[attr-defined]
    for i, row in enumerate(rows.tolist()):
        x = dict(zip(keys, row, strict=True))
        out[i] = score(x)
        learn(x)
    return out


@dataclass(frozen=True)
class _Report:
    """Done-callback of one device's future: report its rows to `progress`."""

    progress: Callable[[int], None]
    rows: int

    def __call__(self, _future: Future[np.ndarray]) -> None:
        self.progress(self.rows)


class RiverJob:
    """River detectors per device, started at once in `workers` processes; `result(kind)` collects.

    Starting before the FLEAD modes run lets the baselines use the other core meanwhile.
    `progress[kind]` receives the rows of each device as it finishes (from a pool thread).
    Thresholds: `flead.evaluation.budget` at `budget` false alarms per device-day.
    """

    def __init__(
        self,
        kinds: Sequence[str],
        device: np.ndarray,
        time_: np.ndarray,
        values: np.ndarray,
        seed: int = 0,
        budget: float = 0.5,
        warmup_fraction: float = 0.1,
        workers: int | None = None,
        progress: dict[str, Callable[[int], None]] | None = None,
    ) -> None:
        try:
            import river  # noqa: F401
        except ImportError as exc:
            raise ValueError(f"the River baselines need River: pip install {RIVER_PIN}") from exc
        self.started = time.perf_counter()
        self.kinds = tuple(kinds)
        self.finished = dict.fromkeys(self.kinds, self.started)
        self.ids = np.asarray(device).astype(str)
        self.time, self.values, self.seed = time_, values, seed
        self.budget, self.warmup = budget, warmup_fraction
        self.groups = [np.flatnonzero(self.ids == d) for d in np.unique(self.ids)]
        self.progress = progress or {}
        useful = -(-len(self.ids) * len(self.kinds) // MIN_ROWS_PER_WORKER)
        self.workers = max(1, min(workers or os.cpu_count() or 1, len(self.groups), useful))
        self.pool: ProcessPoolExecutor | None = None
        self.futures: dict[str, list[Future[np.ndarray]]] = {k: [] for k in self.kinds}
        if self.workers > 1:
            ctx = multiprocessing.get_context("spawn")  # never fork a process that has threads
            self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
            for rows in self.groups:  # devices outer: both detectors progress together
                for kind in self.kinds:
                    f = self.pool.submit(river_scores, kind, values[rows], seed, self._warm(rows))
                    f.add_done_callback(self._stamp(kind))
                    if kind in self.progress:
                        f.add_done_callback(_Report(self.progress[kind], len(rows)))
                    self.futures[kind].append(f)

    def _warm(self, rows: np.ndarray) -> int:
        return int(np.ceil(self.warmup * len(rows)))

    def _stamp(self, kind: str) -> Callable[[Future[np.ndarray]], None]:
        def done(_f: Future[np.ndarray]) -> None:
            self.finished[kind] = max(self.finished[kind], time.perf_counter())

        return done

    def result(self, kind: str) -> BaselineResult:
        """Wait for every device of `kind`; scores, budget thresholds and alarms per input row."""
        score = np.zeros(len(self.ids), dtype=np.float64)
        for i, rows in enumerate(self.groups):
            if self.pool is None:
                score[rows] = river_scores(kind, self.values[rows], self.seed, self._warm(rows))
                self.finished[kind] = time.perf_counter()
                if kind in self.progress:
                    self.progress[kind](len(rows))
            else:
                score[rows] = self.futures[kind][i].result()
        thr = per_device(self.ids, self.time, score, self.budget, self.warmup, SETTLE[kind])
        return BaselineResult(
            score.astype(np.float32), thr.astype(np.float32), score > thr,
            self.finished[kind] - self.started,
        )  # fmt: skip

    def close(self) -> None:
        """Shut the worker pool down (after every `result`, or to abandon the job)."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
