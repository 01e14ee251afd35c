"""Stream time-sorted readings through one FLEAD mode in micro-batches, with aggregation rounds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from flead.data.records import Readings
from flead.model import ModelConfig
from flead.simulation.federate import Federation, RoundLog, observe_round
from flead.simulation.modes import FEDERATED_MODES, make_bank

__all__ = ["ModeRun", "Plan", "run_mode"]


@dataclass(frozen=True)
class Plan:
    """How the stream is cut: micro-batch rows, and rounds every `round_seconds` or `round_rows`."""

    batch: int = 1024
    round_seconds: float | None = 3600.0
    round_rows: int | None = None

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"--batch must be >= 1, got {self.batch}")
        if self.round_seconds is not None and self.round_seconds <= 0:
            raise ValueError(f"--round-seconds must be > 0, got {self.round_seconds:g}")
        if self.round_rows is not None and self.round_rows < 1:
            raise ValueError(f"--round-rows must be >= 1, got {self.round_rows}")

    def cuts(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(end row of every micro-batch, end row of every round); rounds end on batch ends."""
        n = len(t)
        if self.round_rows is not None:
            rounds = np.arange(self.round_rows, n, self.round_rows)
        elif self.round_seconds is not None and n:
            marks = np.arange(t[0] + self.round_seconds, t[-1], self.round_seconds)
            rounds = np.unique(np.searchsorted(t, marks, side="left"))
            rounds = rounds[(rounds > 0) & (rounds < n)]
        else:
            rounds = np.zeros(0, dtype=np.int64)
        rounds = np.append(rounds, n).astype(np.int64)
        ends = np.union1d(np.arange(self.batch, n, self.batch), rounds).astype(np.int64)
        return ends, rounds


@dataclass
class ModeRun:
    """A mode's output per input row, its wall time and its per-round log."""

    mode: str
    score: np.ndarray
    threshold: np.ndarray
    anomaly: np.ndarray
    seconds: float
    rounds: list[RoundLog] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        return len(self.score) / self.seconds if self.seconds > 0 else 0.0


def run_mode(
    mode: str,
    data: Readings,
    config: ModelConfig,
    seed: int,
    plan: Plan,
    progress: Callable[[int], None] | None = None,
) -> ModeRun:
    """Prequential pass of `mode` over `data` (time-sorted); federated modes federate each round
    end through the services' Participant and Strategy (`Federation`)."""
    bank = make_bank(mode, data.features, config, seed)
    n = len(data)
    out = ModeRun(mode, np.empty(n, np.float32), np.empty(n, np.float32), np.empty(n, bool), 0.0)
    ends, round_ends = plan.cuts(data.time)
    round_at = set(round_ends.tolist())
    fed = Federation(bank) if mode in FEDERATED_MODES else None
    start = last_round = time.perf_counter()
    lo = 0
    for hi in ends.tolist():
        step = bank.process(data.device[lo:hi], data.time[lo:hi], data.values[lo:hi])
        out.score[lo:hi], out.threshold[lo:hi], out.anomaly[lo:hi] = (
            step.score, step.threshold, step.anomaly,
        )  # fmt: skip
        clock = float(data.time[hi - 1])
        if fed is not None:
            fed.learned(clock)
        if hi in round_at:
            index = len(out.rounds) + 1
            log = fed.round(index, clock) if fed is not None else observe_round(bank, index, clock)
            now = time.perf_counter()
            out.rounds.append(replace(log, wall_seconds=now - last_round))
            last_round = now
        if progress:
            progress(hi - lo)
        lo = hi
    out.seconds = time.perf_counter() - start
    return out
