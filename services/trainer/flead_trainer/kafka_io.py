"""Kafka wiring of a trainer: consumer/producer configuration, resuming assignment, lag statistics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from flead_trainer.settings import TrainerSettings

__all__ = [
    "committed_offsets",
    "consumer_config",
    "lags_from_stats",
    "producer_config",
    "resume_positions",
]


def lags_from_stats(stats_json: str, topic: str) -> dict[int, int]:
    """librdkafka statistics -> {partition: consumer_lag}; skips partition -1 and unknown lags."""
    stats = json.loads(stats_json)
    parts = stats.get("topics", {}).get(topic, {}).get("partitions", {})
    out = {}
    for key, p in parts.items():
        number = int(key)
        lag = p.get("consumer_lag", -1)
        if number >= 0 and lag is not None and lag >= 0:
            out[number] = int(lag)
    return out


def consumer_config(s: TrainerSettings, on_stats: Callable[[str], None]) -> dict[str, Any]:
    """Manual commits only, after the checkpoint; statistics every 5 s for the lag gauge."""
    return {
        "bootstrap.servers": s.kafka_bootstrap_servers,
        "group.id": s.consumer_group,
        "client.id": f"flead-trainer-{s.partition_group}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "statistics.interval.ms": 5000,
        "stats_cb": on_stats,
        "fetch.wait.max.ms": 50,
    }


def producer_config(s: TrainerSettings) -> dict[str, Any]:
    """Idempotent producer for anomalies and dead letters."""
    return {
        "bootstrap.servers": s.kafka_bootstrap_servers,
        "enable.idempotence": True,
        "linger.ms": 2,
        "client.id": f"flead-trainer-{s.partition_group}",
    }


def resume_positions(
    consumer: Consumer, topic: str, partitions: Sequence[int], checkpointed: dict[int, int]
) -> list[TopicPartition]:
    """Where to start each partition: the checkpoint's next offset, else the group's commit, else 0."""
    committed = {tp.partition: tp.offset for tp in committed_offsets(consumer, topic, partitions)}
    out = []
    for p in partitions:
        if p in checkpointed:
            offset = checkpointed[p]
        elif committed.get(p, -1) >= 0:
            offset = committed[p]
        else:
            offset = OFFSET_BEGINNING
        out.append(TopicPartition(topic, p, offset))
    return out


COORDINATOR_NOT_READY = frozenset(
    {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
    }
)


def committed_offsets(
    consumer: Consumer, topic: str, partitions: Sequence[int], *, deadline_seconds: float = 120.0
) -> list[TopicPartition]:
    """The group's committed offsets, retrying while the broker's group coordinator is not ready
    (NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS right after the offsets topic is created)."""
    give_up = time.monotonic() + deadline_seconds
    while True:
        try:
            result: list[TopicPartition] = consumer.committed(
                [TopicPartition(topic, p) for p in partitions], timeout=10
            )
            return result
        except KafkaException as exc:
            error = exc.args[0]
            transient = error.retriable() or error.code() in COORDINATOR_NOT_READY
            if not transient or time.monotonic() > give_up:
                raise
            time.sleep(0.5)


def make_clients(s: TrainerSettings, on_stats: Callable[[str], None]) -> tuple[Consumer, Producer]:
    """A consumer (not yet assigned) and a producer."""
    return Consumer(consumer_config(s, on_stats)), Producer(producer_config(s))
