"""The produce loop against a recording stand-in for confluent-kafka's Producer (no broker)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from flead.data.records import Readings
from flead.partitioning import partition_for
from flead_producer.runner import Runner
from flead_producer.settings import load_settings

pytestmark = pytest.mark.unit


class Recorder:
    """Records produce() calls like a Producer that never fills up."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def produce(
        self, topic: str, value: bytes, key: bytes, partition: int, on_delivery: Any
    ) -> None:
        """Remember one record."""
        self.sent.append({"topic": topic, "value": value, "key": key, "partition": partition})

    def list_topics(self, topic: str, timeout: float) -> Any:
        """Metadata saying every topic has 12 partitions."""
        meta = SimpleNamespace(error=None, partitions=dict.fromkeys(range(12)))
        return SimpleNamespace(topics={topic: meta})

    def poll(self, timeout: float) -> int:
        """Nothing to serve."""
        return 0

    def flush(self, timeout: float) -> int:
        """Nothing queued."""
        return 0


def readings(n: int) -> Readings:
    """n labelled readings of three devices, the last one faulty."""
    label = np.zeros(n, np.int8)
    label[-1] = 1
    fault = np.array([""] * (n - 1) + ["spike"], dtype=object)
    return Readings(
        device=np.array([str(i % 3) for i in range(n)], dtype=object),
        time=np.arange(n, dtype=np.float64),
        values=np.ones((n, 2), np.float32),
        features=("temperature", "humidity"),
        label=label,
        fault=fault,
    )


def test_keys_partitions_and_labels() -> None:
    """Each reading is keyed by device on its murmur2 partition; labels follow ('faults' mode)."""
    rec = Recorder()
    s = load_settings(producer_labels="faults")
    sent = Runner(s, {}, producer=rec).run(readings(6))  # type: ignore[arg-type]
    assert sent == 6
    data = [r for r in rec.sent if r["topic"] == s.readings_topic]
    assert [r["key"] for r in data] == [b"0", b"1", b"2"] * 2
    assert all(
        r["partition"] == partition_for(r["key"].decode(), s.readings_partitions) for r in data
    )
    labels = [json.loads(r["value"]) for r in rec.sent if r["topic"] == s.labels_topic]
    assert labels == [{"device": "2", "time": 5.0, "label": 1, "fault": "spike"}]


def test_too_few_partitions_is_a_clear_error() -> None:
    """A readings topic with fewer partitions than the plan is refused before producing."""
    s = load_settings(readings_partitions=64)
    with pytest.raises(ValueError, match="has 12 partitions, the plan needs"):
        Runner(s, {"0": 63}, producer=Recorder()).run(readings(3))  # type: ignore[arg-type]


def test_loop_shifts_time_and_max_readings_stops() -> None:
    """Looping replays with later times; FLEAD_PRODUCER_MAX_READINGS ends the stream."""
    rec = Recorder()
    s = load_settings(producer_loop=True, producer_max_readings=9, producer_labels="none")
    Runner(s, {}, producer=rec).run(readings(4))  # type: ignore[arg-type]
    times = [json.loads(r["value"])["time"] for r in rec.sent]
    assert len(times) == 9
    assert times == sorted(times)
    assert len(set(times)) == 9
