"""Prometheus metrics of a trainer, named as in docs/interfaces.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from prometheus_client import Counter, Gauge, Histogram

from flead.metrics import DEPENDENCY_RETRIES, DEPENDENCY_UP

__all__ = [
    "ANOMALIES",
    "CHECKPOINT",
    "CHECKPOINT_BYTES",
    "CHECKPOINT_DEVICES",
    "CHECKPOINT_REFUSED",
    "CONSUMED",
    "DEAD",
    "DEPENDENCY_RETRIES",
    "DEPENDENCY_UP",
    "DEVICES",
    "DEVICE_ANOMALIES",
    "DEVICE_READINGS",
    "DEVICE_SCORE",
    "DEVICE_THRESHOLD",
    "GLOBAL_VERSION",
    "LAG",
    "TRAINING",
    "UNSERVED",
    "UPDATES_SENT",
    "count_devices",
]

CONSUMED = Counter("flead_readings_consumed", "Valid readings scored and learned from")
ANOMALIES = Counter("flead_anomalies", "Readings flagged as anomalous")
DEAD = Counter("flead_dead_letters", "Malformed records sent to the dead-letter topic", ["reason"])
LAG = Gauge(
    "flead_consumer_lag_messages", "Records behind the end of each partition", ["partition"]
)
TRAINING = Histogram(
    "flead_local_training_duration_seconds",
    "Score-then-learn time of one micro-batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
UPDATES_SENT = Counter(
    "flead_local_updates_sent", "Local updates sent to the aggregator, by outcome", ["outcome"]
)
DEVICES = Gauge("flead_trainer_devices", "Devices this trainer holds a model for")
GLOBAL_VERSION = Gauge("flead_trainer_global_version", "Global model version last adopted")
CHECKPOINT = Histogram(
    "flead_checkpoint_duration_seconds",
    "Time to write results, anomalies and checkpoints of one micro-batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CHECKPOINT_BYTES = Counter(
    "flead_checkpoint_bytes_written", "BSON bytes of device states and manifests checkpointed"
)
CHECKPOINT_DEVICES = Counter(
    "flead_checkpoint_devices_written", "Device states written by checkpoints (changed devices)"
)
CHECKPOINT_REFUSED = Counter(
    "flead_checkpoint_devices_refused",
    "Checkpointed device states not restored (another state format or model): they start afresh",
)
UNSERVED = Counter(
    "flead_unserved_readings",
    "Readings of devices this trainer does not serve (paused, or not assigned to its group)",
    ["reason"],
)
DEVICE_READINGS = Counter("flead_device_readings", "Readings processed per device", ["device"])
DEVICE_ANOMALIES = Counter("flead_device_anomalies", "Anomalies flagged per device", ["device"])
DEVICE_SCORE = Gauge("flead_device_anomaly_score", "Last anomaly score per device", ["device"])
DEVICE_THRESHOLD = Gauge("flead_device_threshold", "Threshold in force per device", ["device"])


class _Device(NamedTuple):
    readings: Counter
    anomalies: Counter
    score: Gauge
    threshold: Gauge


_children: dict[str, _Device] = {}


def _device(device: str) -> _Device:
    child = _children.get(device)
    if child is None:  # the label lookups once per device, not once per batch
        child = _children[device] = _Device(
            DEVICE_READINGS.labels(device),
            DEVICE_ANOMALIES.labels(device),  # exists at 0 from the device's first reading
            DEVICE_SCORE.labels(device),
            DEVICE_THRESHOLD.labels(device),
        )
    return child


def count_devices(
    readings: Mapping[str, int],
    anomalies: Mapping[str, int],
    score: Mapping[str, float],
    threshold: Mapping[str, float],
) -> None:
    """A batch's per-device metrics: one update per distinct device (summed by the caller)."""
    for device, k in readings.items():
        child = _device(device)
        child.readings.inc(k)
        child.score.set(score[device])
        child.threshold.set(threshold[device])
    for device, k in anomalies.items():
        _device(device).anomalies.inc(k)
