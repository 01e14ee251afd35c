"""What a trainer writes to Kafka: dead letters (original bytes + reason headers) and anomalies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Producer

from flead_trainer.decode import Dead

__all__ = ["dead_headers", "produce", "publish_anomalies", "publish_dead"]


def dead_headers(dead: Dead, source_topic: str) -> list[tuple[str, bytes]]:
    """The dead-letter headers of docs/interfaces.md."""
    return [
        ("flead-reason", dead.reason.encode()),
        ("flead-topic", source_topic.encode()),
        ("flead-partition", str(dead.raw.partition).encode()),
        ("flead-offset", str(dead.raw.offset).encode()),
    ]


def publish_dead(producer: Producer, topic: str, source_topic: str, dead: Sequence[Dead]) -> None:
    """Send each malformed record, unchanged, with its reason."""
    for d in dead:
        produce(producer, topic, d.raw.value or b"", d.raw.key, dead_headers(d, source_topic))


def publish_anomalies(producer: Producer, topic: str, docs: Sequence[dict[str, Any]]) -> None:
    """Send each anomaly keyed by its device."""
    for doc in docs:
        value = json.dumps(doc, separators=(",", ":")).encode()
        produce(producer, topic, value, str(doc["device"]).encode(), None)


def produce(
    producer: Producer,
    topic: str,
    value: bytes | None,
    key: bytes | None,
    headers: list[tuple[str, bytes]] | None,
) -> None:
    """One record, waiting (serving delivery reports) while the local queue is full."""
    while True:
        try:
            producer.produce(topic, value, key, headers=headers)
            return
        except BufferError:
            producer.poll(0.05)
