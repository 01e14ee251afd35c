"""Resuming a partition group survives a group coordinator that is not ready yet."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from flead_trainer.kafka_io import (
    Deliveries,
    Undelivered,
    committed_offsets,
    flush_all,
    kafka_transient,
)

pytestmark = pytest.mark.unit


class _Consumer:
    """Stands in for librdkafka's committed() call: fails with the given errors, then answers."""

    def __init__(self, errors: list[int]) -> None:
        self.errors = errors
        self.calls = 0

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        self.calls += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return [TopicPartition(tp.topic, tp.partition, 7) for tp in partitions]


def test_not_coordinator_is_retried_until_the_offsets_arrive() -> None:
    """NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS right after start-up are waited out."""
    consumer: Any = _Consumer([KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS])
    offsets = committed_offsets(consumer, "t", [0, 1])
    assert [tp.offset for tp in offsets] == [7, 7]
    assert consumer.calls == 3


def test_a_permanent_error_is_raised_at_once() -> None:
    """An authorisation failure is not retried: the trainer must fail loudly."""
    consumer: Any = _Consumer([KafkaError.GROUP_AUTHORIZATION_FAILED])
    with pytest.raises(KafkaException):
        committed_offsets(consumer, "t", [0])
    assert consumer.calls == 1


def test_failed_deliveries_are_produced_again_never_dropped() -> None:
    """A record librdkafka gave up on is kept by Deliveries and produced again by flush_all,
    which raises Undelivered (transient: the writer retries) until every record is acknowledged."""

    class Producer:
        def __init__(self) -> None:
            self.produced: list[tuple[str, bytes | None]] = []
            self.queued = 0

        def flush(self, timeout: float) -> int:
            return self.queued

        def produce(
            self, topic: str, value: bytes | None, key: bytes | None, headers: object
        ) -> None:
            self.produced.append((topic, value))

        def poll(self, timeout: float) -> int:
            return 0

    deliveries = Deliveries()
    msg = SimpleNamespace(
        topic=lambda: "anomalies", value=lambda: b"v", key=lambda: b"k", headers=lambda: None
    )
    deliveries(KafkaError(KafkaError._MSG_TIMED_OUT), msg)  # type: ignore[arg-type]
    deliveries(None, msg)  # type: ignore[arg-type]
    producer = Producer()
    with pytest.raises(Undelivered) as caught:
        flush_all(producer, deliveries, 1.0)  # type: ignore[arg-type]
    assert kafka_transient(caught.value)
    assert producer.produced == [("anomalies", b"v")]
    producer.queued = 3
    with pytest.raises(Undelivered, match="3 records not acknowledged"):
        flush_all(producer, deliveries, 1.0)  # type: ignore[arg-type]
    producer.queued = 0
    flush_all(producer, deliveries, 1.0)  # type: ignore[arg-type]
    assert deliveries.failures == 1


def test_kafka_outages_are_transient_bad_requests_are_not() -> None:
    """No broker, no coordinator, timeouts: wait it out; anything else propagates."""
    for code in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError.NOT_COORDINATOR):
        assert kafka_transient(KafkaException(KafkaError(code)))
    assert not kafka_transient(KafkaException(KafkaError(KafkaError.INVALID_MSG_SIZE)))
    assert not kafka_transient(ValueError("bug"))
