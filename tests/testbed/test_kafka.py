"""Smoke test: the bed's Kafka is a real Apache Kafka broker (KRaft) reachable by confluent-kafka."""

import os
import time
from collections import defaultdict

import pytest
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.support.testbed import unique, wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 3
MESSAGES = 60
FIRST_BATCH = 25


def _consume(consumer: Consumer, count: int, timeout: float = 60.0) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        got.append(msg)
    assert len(got) == count, f"consumed {len(got)} of {count} messages within {timeout}s"
    return got


def _consumer(bootstrap: str, group: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": f"{group}-client",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def test_kafka_topic_keyed_messages_group_commit_and_resume() -> None:
    """Proves a multi-partition topic, keyed partitioning, consumer groups and committed offsets.

    Creates a 3-partition topic, produces keyed messages (each key always lands on one
    partition), consumes part of them in a group and commits, checks
    describe_consumer_groups lists the live member with its assignment, then a new
    consumer in the same group resumes exactly at the committed offsets: together the
    two consumers see every message once.
    """
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    topic, group = unique("smoke-topic"), unique("smoke-group")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics(
        [NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)]
    ).values():
        fut.result(timeout=30)
    meta = wait_until(
        "topic metadata", lambda: admin.list_topics(topic, timeout=10).topics.get(topic)
    )
    assert len(meta.partitions) == PARTITIONS

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    delivered: list[tuple[str, int, int]] = []
    errors: list[object] = []

    def on_delivery(err: object, msg: Message) -> None:
        if err is not None:
            errors.append(err)
        else:
            delivered.append((msg.key().decode(), msg.partition(), msg.offset()))

    for i in range(MESSAGES):
        producer.produce(
            topic, key=f"device-{i % 7}", value=f"reading-{i}", on_delivery=on_delivery
        )
    assert producer.flush(30) == 0
    assert not errors
    assert len(delivered) == MESSAGES
    partitions_by_key: dict[str, set[int]] = defaultdict(set)
    for key, partition, _ in delivered:
        partitions_by_key[key].add(partition)
    assert all(len(p) == 1 for p in partitions_by_key.values()), partitions_by_key
    assert len({p for _, p, _ in delivered}) > 1, "keys should spread over partitions"

    first = _consumer(bootstrap, group)
    first.subscribe([topic])
    batch1 = _consume(first, FIRST_BATCH)
    committed = first.commit(asynchronous=False)
    assert committed is not None
    commit_offsets = {
        tp.partition: tp.offset for tp in committed if tp.error is None and tp.offset >= 0
    }
    assert sum(commit_offsets.values()) == FIRST_BATCH

    described = admin.describe_consumer_groups([group])[group].result(timeout=30)
    assert len(described.members) == 1
    member = described.members[0]
    assert member.client_id == f"{group}-client"
    assert {tp.topic for tp in member.assignment.topic_partitions} == {topic}
    assert len(member.assignment.topic_partitions) == PARTITIONS
    first.close()

    second = _consumer(bootstrap, group)
    stored = second.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=30)
    assert {tp.partition: tp.offset for tp in stored if tp.offset >= 0} == commit_offsets
    second.subscribe([topic])
    batch2 = _consume(second, MESSAGES - FIRST_BATCH)
    second.commit(asynchronous=False)
    second.close()

    seen1 = {(m.partition(), m.offset()) for m in batch1}
    seen2 = {(m.partition(), m.offset()) for m in batch2}
    assert not seen1 & seen2, "the second consumer must resume after the committed offsets"
    assert seen1 | seen2 == {(p, o) for _, p, o in delivered}
    for partition, offset in commit_offsets.items():
        resumed = [o for p, o in seen2 if p == partition]
        if resumed:
            assert min(resumed) == offset

    for fut in admin.delete_topics([topic]).values():
        fut.result(timeout=30)
