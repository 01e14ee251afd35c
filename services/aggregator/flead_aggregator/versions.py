"""A closed round as a registry record, and the round's metrics."""

from __future__ import annotations

import time

from flead.federation import Closed
from flead_aggregator import metrics as m
from flead_aggregator.store import Evaluation, ModelRecord

__all__ = ["observe_round", "record_of"]


def record_of(closed: Closed, policy: str) -> ModelRecord:
    """The registry record of a version a strategy produced."""
    lin = closed.version.lineage
    ev = Evaluation(closed.step_norm, closed.mean_loss, lin.participants, lin.samples)
    return ModelRecord(closed.version, policy, ev)


def observe_round(closed: Closed, started: float) -> None:
    """Round metrics of a version produced by aggregation (`started`: perf_counter at start)."""
    lin = closed.version.lineage
    m.ROUNDS.inc()
    m.ROUND_PARTICIPANTS.set(lin.participants)
    m.AGGREGATED_SAMPLES.inc(lin.samples)
    if closed.oldest_at is not None:
        m.ROUND_DURATION.observe(max(0.0, lin.created_at - closed.oldest_at))
    if closed.mean_loss is not None:
        m.GLOBAL_LOSS.set(closed.mean_loss)
    m.AGGREGATION_DURATION.observe(time.perf_counter() - started)
