"""Prometheus metrics of the aggregator, named as in docs/interfaces.md."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from flead.metrics import DEPENDENCY_UP

__all__ = [
    "AGGREGATED_SAMPLES",
    "AGGREGATION_DURATION",
    "DEPENDENCY_UP",
    "GLOBAL_LOSS",
    "GLOBAL_VERSION",
    "PENDING",
    "ROUNDS",
    "ROUND_DURATION",
    "ROUND_PARTICIPANTS",
    "STALENESS",
    "UPDATES",
    "UPDATE_WRITE_BATCH",
]

UPDATES = Counter("flead_updates", "Local updates received, by outcome", ["outcome"])
for _outcome in ("accepted", "stale", "rejected", "duplicate", "unavailable"):
    UPDATES.labels(_outcome)
STALENESS = Histogram(
    "flead_update_staleness_versions",
    "Global versions between an accepted update's base and the current model",
    buckets=(0, 1, 2, 3, 5, 8, 13),
)
UPDATE_WRITE_BATCH = Histogram(
    "flead_update_write_batch",
    "Updates made durable by one store write (concurrent requests share it: group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
AGGREGATION_DURATION = Histogram(
    "flead_aggregation_duration_seconds", "Time to combine a round's updates and store the version"
)
ROUND_DURATION = Histogram(
    "flead_round_duration_seconds",
    "Time from a round's first pending update to its new version",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
ROUNDS = Counter("flead_rounds_completed", "Global versions produced by aggregation")
ROUND_PARTICIPANTS = Gauge("flead_round_participants", "Updates in the last completed round")
AGGREGATED_SAMPLES = Counter(
    "flead_aggregated_samples", "Samples behind all updates aggregated so far"
)
GLOBAL_VERSION = Gauge("flead_global_model_version", "Version of the current global model")
GLOBAL_LOSS = Gauge(
    "flead_global_model_loss", "Sample-weighted mean loss reported by the last round's clients"
)
PENDING = Gauge("flead_pending_updates", "Accepted updates waiting for aggregation")
