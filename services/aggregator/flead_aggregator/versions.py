"""Building the next registry version (lineage + evaluation) and recording a round's metrics."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from flead_aggregator import metrics as m
from flead_aggregator.policy import evaluate
from flead_aggregator.store import ModelRecord, UpdateRecord

__all__ = ["next_version", "observe_round"]


def next_version(
    cur: ModelRecord,
    weights: Sequence[np.ndarray],
    used: Sequence[UpdateRecord],
    *,
    kind: str,
    rule: str,
    policy: str,
    now: float,
    lineage: dict[str, Any] | None = None,
) -> ModelRecord:
    """The version after `cur`, made of `used` updates (lineage and evaluation filled in)."""
    ev = evaluate(cur.weights, weights, [(u.loss, u.samples) for u in used])
    samples = sum(u.samples for u in used)
    lineage = lineage or {
        "update_ids": [u.update_id for u in used],
        "devices": sorted({u.device for u in used}),
        "samples": samples,
        "participants": len(used),
    }
    return ModelRecord(
        cur.version + 1,
        [np.asarray(w, np.float32) for w in weights],
        now,
        kind,
        parent=cur.version,
        rule=rule,
        policy=policy,
        lineage=lineage,
        evaluation={**ev, "participants": len(used), "samples": samples},
    )


def observe_round(rec: ModelRecord, used: Sequence[UpdateRecord], started: float) -> None:
    """Round metrics of a version produced by aggregation (`started`: perf_counter at start)."""
    m.ROUNDS.inc()
    m.ROUND_PARTICIPANTS.set(len(used))
    m.AGGREGATED_SAMPLES.inc(rec.evaluation.get("samples", 0))
    if used:
        m.ROUND_DURATION.observe(max(0.0, rec.created_at - min(u.received_at for u in used)))
    loss = rec.evaluation.get("mean_client_loss")
    if loss is not None:
        m.GLOBAL_LOSS.set(loss)
    m.AGGREGATION_DURATION.observe(time.perf_counter() - started)
