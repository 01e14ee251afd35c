"""Resuming a partition group survives a group coordinator that is not ready yet."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from flead_trainer.kafka_io import committed_offsets

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
