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
    s = load_settings(readings_partitions=64, producer_topic_wait_seconds=0)
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


class Failing(Recorder):
    """A Producer whose broker refuses every delivery after the first `ok` records, and which
    keeps `stuck` records queued at the first flush (they fail once purged)."""

    def __init__(self, ok: int, stuck: int = 0) -> None:
        super().__init__()
        self.ok, self.stuck, self.purged, self.delivered = ok, stuck, False, 0
        self.callbacks: list[tuple[str, Any]] = []

    def produce(
        self, topic: str, value: bytes, key: bytes, partition: int, on_delivery: Any
    ) -> None:
        """Record, and keep the delivery callback for poll/flush."""
        super().produce(topic, value, key, partition, on_delivery)
        self.callbacks.append((topic, on_delivery))

    def _report(self) -> None:
        for topic, cb in self.callbacks:
            error = None if self.delivered < self.ok else "Broker: Unknown topic or partition"
            cb(error, SimpleNamespace(topic=lambda topic=topic: topic))
            self.delivered += 1
        self.callbacks = []

    def poll(self, timeout: float) -> int:
        """Serve delivery reports."""
        self._report()
        return 0

    def flush(self, timeout: float) -> int:
        """Serve delivery reports; the stuck records stay queued until purged."""
        if self.stuck and not self.purged:
            return self.stuck
        self._report()
        return 0

    def purge(self) -> None:
        """Drop what is queued: the stuck records' reports say they failed."""
        self.purged = True
        self.ok = self.delivered


def test_a_failed_delivery_stops_and_names_topic_and_count() -> None:
    """Deliveries fail after the first 2000: producing stops, run raises NotDelivered with the
    readings topic and the number of readings Kafka did not take, in one line."""
    from flead_producer.runner import NotDelivered

    s = load_settings(readings_topic="t.readings", producer_labels="none")
    failing = Failing(ok=2000)
    runner = Runner(s, {}, producer=failing)  # type: ignore[arg-type]
    with pytest.raises(NotDelivered) as caught:
        runner.run(readings(10_000))
    exc = caught.value
    assert exc.topic == "t.readings"
    assert exc.count == len(failing.sent) - 2000
    assert len(failing.sent) < 10_000  # stopped at the first failure
    text = str(exc)
    assert "\n" not in text
    assert "t.readings" in text
    assert str(exc.count) in text


def test_readings_still_queued_at_the_end_are_counted_not_delivered() -> None:
    """flush leaves 7 records queued: they are purged and reported as not delivered."""
    from flead_producer.runner import NotDelivered

    s = load_settings(readings_topic="t.readings", producer_labels="none", producer_flush_seconds=1)
    failing = Failing(ok=10**9, stuck=7)
    runner = Runner(s, {}, producer=failing)  # type: ignore[arg-type]
    with pytest.raises(NotDelivered, match="7 records still queued") as caught:
        runner.run(readings(5))
    assert failing.purged
    assert caught.value.count == 5  # the queued readings, reported failed once purged


def test_a_missing_topic_is_waited_for() -> None:
    """The topic appears on the third metadata lookup: the run goes on; with no wait it is
    refused at once with the fix named."""

    class Late(Recorder):
        lookups = 0

        def list_topics(self, topic: str, timeout: float) -> Any:
            self.lookups += 1
            return (
                SimpleNamespace(topics={})
                if self.lookups < 3
                else super().list_topics(topic, timeout)
            )

    s = load_settings(producer_labels="none", producer_topic_wait_seconds=10)
    late = Late()
    runner = Runner(s, {}, producer=late)  # type: ignore[arg-type]
    runner.stop.wait = lambda timeout=None: False  # type: ignore[method-assign]
    assert runner.run(readings(3)) == 3
    assert late.lookups == 3
    s0 = load_settings(producer_labels="none", producer_topic_wait_seconds=0)
    late0 = Late()
    with pytest.raises(ValueError, match=r"python -m flead_producer\.topics"):
        Runner(s0, {}, producer=late0).run(readings(3))  # type: ignore[arg-type]


def test_stop_flushes_what_was_produced() -> None:
    """SIGTERM (the stop event) mid-stream: producing stops, what was produced is flushed."""

    class Counting(Recorder):
        flushed = 0

        def flush(self, timeout: float) -> int:
            self.flushed += 1
            return 0

    s = load_settings(producer_labels="none")
    rec = Counting()
    runner = Runner(s, {}, producer=rec)  # type: ignore[arg-type]
    original = rec.produce

    def produce(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        if len(rec.sent) == 4:
            runner.stop.set()

    rec.produce = produce  # type: ignore[method-assign]
    assert runner.run(readings(10)) == 4
    assert rec.flushed == 1
