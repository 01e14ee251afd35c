"""Kafka wiring of a trainer: consumer/producer configuration, resuming assignment, lag statistics."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from flead.logging import get_logger
from flead_trainer.publish import produce
from flead_trainer.settings import TrainerSettings

__all__ = [
    "KAFKA_DOWN",
    "Deliveries",
    "Undelivered",
    "committed_offsets",
    "consumer_config",
    "flush_all",
    "kafka_transient",
    "lags_from_stats",
    "producer_config",
    "resume_positions",
]

log = get_logger(__name__)


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


def consumer_config(
    s: TrainerSettings,
    on_stats: Callable[[str], None],
    on_error: Callable[[KafkaError], None] | None = None,
) -> dict[str, Any]:
    """Manual commits only, after the checkpoint; statistics every 5 s for the lag gauge;
    client-level errors (all brokers down...) to `on_error`."""
    config: dict[str, Any] = {
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
    if on_error is not None:
        config["error_cb"] = on_error
    return config


def producer_config(
    s: TrainerSettings, on_delivery: Callable[[KafkaError | None, Message], None] | None = None
) -> dict[str, Any]:
    """Idempotent producer for anomalies and dead letters (delivery reports to `on_delivery`)."""
    config: dict[str, Any] = {
        "bootstrap.servers": s.kafka_bootstrap_servers,
        "enable.idempotence": True,
        "linger.ms": 2,
        "client.id": f"flead-trainer-{s.partition_group}",
    }
    if on_delivery is not None:
        config["on_delivery"] = on_delivery
    return config


Record = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]] | None]


class Deliveries:
    """The producer's delivery reports: a record librdkafka gave up on (its message timeout
    passed, a fatal broker error) is kept, to be produced again by `flush_all`, never dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failed: list[Record] = []
        self.failures = 0

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        """The producer's on_delivery callback (runs inside poll/flush)."""
        if err is None:
            return
        with self._lock:
            self._failed.append((str(msg.topic()), msg.value(), msg.key(), msg.headers()))
            self.failures += 1
            n = self.failures
        if n == 1 or n % 1000 == 0:
            log.warning("delivery failed, will produce again", topic=msg.topic(), error=str(err))

    def take_failed(self) -> list[Record]:
        """The failed records since the last call."""
        with self._lock:
            failed, self._failed = self._failed, []
        return failed


class Undelivered(Exception):  # noqa: N818 -- reads as the condition it reports
    """Records produced but not acknowledged yet (broker unreachable): flush again later."""


def flush_all(producer: Producer, deliveries: Deliveries | None, timeout: float) -> None:
    """Wait up to `timeout` for every produced record to be acknowledged; produce failed ones
    again; raise Undelivered unless all of them were acknowledged."""
    remaining = producer.flush(timeout)
    failed = deliveries.take_failed() if deliveries is not None else []
    for topic, value, key, headers in failed:
        produce(producer, topic, value, key, headers)
    if remaining or failed:
        raise Undelivered(
            f"{remaining} records not acknowledged within {timeout:.0f}s, "
            f"{len(failed)} failed and produced again"
        )


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


KAFKA_DOWN = frozenset(
    {
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError._WAIT_COORD,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
    }
)


def kafka_transient(exc: BaseException) -> bool:
    """Whether a Kafka failure is an outage worth waiting out (no broker, no coordinator, a
    retriable error, records not acknowledged yet), not a bad request."""
    if isinstance(exc, Undelivered):
        return True
    if not isinstance(exc, KafkaException) or not exc.args:
        return False
    error = exc.args[0]
    if not isinstance(error, KafkaError):
        return False
    return bool(error.retriable()) or error.code() in COORDINATOR_NOT_READY | KAFKA_DOWN


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


def make_clients(
    s: TrainerSettings,
    on_stats: Callable[[str], None],
    on_delivery: Callable[[KafkaError | None, Message], None] | None = None,
    on_error: Callable[[KafkaError], None] | None = None,
) -> tuple[Consumer, Producer]:
    """A consumer (not yet assigned) and a producer."""
    producer = producer_config(s, on_delivery)
    if on_error is not None:
        producer["error_cb"] = on_error
    return Consumer(consumer_config(s, on_stats, on_error)), Producer(producer)
