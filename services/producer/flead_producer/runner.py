"""The produce loop: paces readings (and their labels) into Kafka with explicit partitions."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from flead.data.records import Readings
from flead.logging import get_logger
from flead_producer import metrics as m
from flead_producer.plan import due_times, encode_label, encode_row, loop_shift, partitions_of
from flead_producer.settings import ProducerSettings

__all__ = ["NotDelivered", "Runner", "delivery_callback", "kafka_config"]

TOPIC_WAIT_LOG_SECONDS = 10.0  # one "waiting for topic" line this often

log = get_logger(__name__)


def kafka_config(s: ProducerSettings) -> dict[str, Any]:
    """Idempotent producer configuration (acks=all, ordered retries)."""
    return {
        "bootstrap.servers": s.kafka_bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "queue.buffering.max.messages": 500_000,
        "client.id": "flead-producer",
        "allow.auto.create.topics": False,  # a metadata lookup must not create a 1-partition topic
    }


def delivery_callback(readings_topic: str) -> Callable[[KafkaError | None, Message], None]:
    """Counts acknowledged readings and every failed delivery."""

    def delivered(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            m.DELIVERY_ERRORS.inc()
            log.error("delivery failed", topic=msg.topic(), error=str(err))
        elif msg.topic() == readings_topic:
            m.PRODUCED.inc()

    return delivered


class NotDelivered(Exception):  # noqa: N818 -- reads as the condition it reports
    """Readings Kafka did not acknowledge: a fatal produce error, or still queued at the end."""

    def __init__(self, topic: str, count: int, error: str) -> None:
        super().__init__(f"{count} readings not delivered to topic {topic}: {error}")
        self.topic, self.count, self.error = topic, count, error


class Runner:
    """Streams one Readings batch (optionally looping) and counts what Kafka acknowledged.

    The first failed delivery (or produce error) stops producing: what is still queued is
    purged and counted, and `run` raises NotDelivered naming the topic and the count."""

    def __init__(
        self,
        s: ProducerSettings,
        overrides: dict[str, int],
        producer: Producer | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.s = s
        self.overrides = overrides
        self.producer = producer or Producer(kafka_config(s))
        self.stop = stop or threading.Event()
        self.sent = 0
        self._count = delivery_callback(s.readings_topic)
        self.failed: Counter[str] = Counter()  # topic -> records not delivered
        self.error: str | None = None  # the first failure

    def run(self, r: Readings, progress: Callable[[int], None] | None = None) -> int:
        """Produce every row (every pass when looping); returns readings handed to Kafka."""
        s = self.s
        parts = partitions_of(list(r.device), s.readings_partitions, self.overrides)
        self._check_partitions(max(parts.values(), default=0) + 1)
        due = due_times(r.time, s.producer_rate, s.producer_speed)
        devices = [str(d) for d in r.device]
        labels = s.producer_labels != "none" and r.label is not None
        passes = 0
        while not self.stop.is_set():
            shift = loop_shift(r.time, passes)
            started = time.monotonic()
            for i in range(len(r)):
                if self.stop.is_set() or (
                    s.producer_max_readings and self.sent >= s.producer_max_readings
                ):
                    self.stop.set()
                    break
                wait = due[i] - (time.monotonic() - started)
                if wait > 0.001:
                    self.stop.wait(wait)
                device, t = devices[i], float(r.time[i]) + shift
                self._send(
                    s.readings_topic,
                    device,
                    parts[device],
                    encode_row(device, t, r.values[i], r.features),
                )
                if labels:
                    self._label(device, parts[device], t, i, r)
                self.sent += 1
                if self.sent % 2000 == 0:
                    self.producer.poll(0)
                    if progress is not None:
                        progress(self.sent)
            passes += 1
            if not s.producer_loop:
                break
        remaining = self.producer.flush(s.producer_flush_seconds)
        if remaining or self.failed:
            if remaining:
                self.error = self.error or (
                    f"{remaining} records still queued after {s.producer_flush_seconds:.0f}s"
                )
                self.producer.purge()  # their delivery reports count them (failed, purged)
                self.producer.flush(1)
            self._not_delivered()
        if progress is not None:
            progress(self.sent)
        return self.sent

    def _not_delivered(self) -> None:
        readings = self.s.readings_topic
        topic = readings if self.failed[readings] or not self.failed else next(iter(self.failed))
        count = self.failed[topic] or sum(self.failed.values())
        raise NotDelivered(topic, count, self.error or "unknown error")

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        self._count(err, msg)
        if err is not None:
            self._failure(str(msg.topic()), str(err))

    def _failure(self, topic: str, error: str) -> None:
        self.failed[topic] += 1
        if self.error is None:
            self.error = error
            self.stop.set()  # a fatal produce error: stop, count the rest

    def _check_partitions(self, needed: int) -> None:
        """Wait (FLEAD_PRODUCER_TOPIC_WAIT_SECONDS) for the topics to exist with the partitions
        the plan uses; ValueError (exit 2) naming the topic and the fix after that."""
        topics = [self.s.readings_topic]
        if self.s.producer_labels != "none":
            topics.append(self.s.labels_topic)
        give_up = time.monotonic() + self.s.producer_topic_wait_seconds
        next_log = 0.0
        for topic in topics:
            while (have := self._partitions(topic)) < needed:
                now = time.monotonic()
                if now >= give_up or self.stop.is_set():
                    raise ValueError(
                        f"topic {topic} has {have} partitions, the plan needs {needed} "
                        f"(FLEAD_READINGS_PARTITIONS); create or grow it: "
                        f"python -m flead_producer.topics"
                    )
                if now >= next_log:
                    log.warning(
                        "waiting for topic",
                        topic=topic,
                        partitions=have,
                        needed=needed,
                        gives_up_in_seconds=round(give_up - now, 1),
                    )
                    next_log = now + TOPIC_WAIT_LOG_SECONDS
                self.stop.wait(min(1.0, max(0.0, give_up - now)))

    def _partitions(self, topic: str) -> int:
        meta = self.producer.list_topics(topic, timeout=10).topics.get(topic)
        return 0 if meta is None or meta.error is not None else len(meta.partitions)

    def _label(self, device: str, partition: int, t: float, i: int, r: Readings) -> None:
        assert r.label is not None
        label = int(r.label[i])
        fault = str(r.fault[i]) if r.fault is not None else ""
        if self.s.producer_labels == "faults" and not label:
            return
        self._send(self.s.labels_topic, device, partition, encode_label(device, t, label, fault))
        m.LABELS.labels(fault or "none").inc()

    def _send(self, topic: str, key: str, partition: int, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(
                    topic, value, key.encode(), partition=partition, on_delivery=self._delivered
                )
                return
            except BufferError:
                self.producer.poll(0.05)
            except KafkaException as exc:  # refused at once (unknown topic, fatal error)
                self._failure(topic, str(exc.args[0] if exc.args else exc))
                return
