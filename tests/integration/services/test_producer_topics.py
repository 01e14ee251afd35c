"""A producer started before anything created the topics makes them with the planned partitions.

Found on the real node: with an external Kafka nothing created the topics, the producer's own
metadata lookup auto-created the readings topic with one partition, and it then refused to run.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.services.conftest import Bed, free_port, partition_watermarks
from tests.support.testbed import wait_until

pytestmark = pytest.mark.integration


def test_producer_creates_the_topics_it_needs(bed: Bed) -> None:
    """No topic exists beforehand: the run succeeds and every topic has its planned partitions."""
    producer = bed.start(
        "flead_producer",
        "producer",
        flead_readings_partitions=4,
        flead_producer_synth_devices=4,
        flead_producer_synth_days=0.05,
        flead_metrics_port=free_port(),
    )
    assert producer.wait(120) == 0, bed.log("producer")
    planned = {"readings": 4, "labels": 4, "anomalies": 3, "dead-letter": 1}
    have = {name: len(partition_watermarks(bed, bed.topic(name))) for name in planned}
    assert have == planned
    assert sum(partition_watermarks(bed, bed.topic("readings")).values()) > 0


def test_producer_told_not_to_create_topics_says_so_in_one_line(bed: Bed) -> None:
    """With topic creation off and no topic, it exits 2 naming the topic and the fix, and the
    lookup itself created nothing."""
    producer = bed.start(
        "flead_producer",
        "producer",
        flead_producer_create_topics="false",
        flead_producer_topic_wait_seconds=2,
        flead_producer_synth_devices=2,
        flead_producer_synth_days=0.01,
        flead_metrics_port=free_port(),
    )
    assert producer.wait(120) == 2, bed.log("producer")
    assert "Traceback" not in bed.log("producer")
    assert "python -m flead_producer.topics" in bed.log("producer")
    from confluent_kafka.admin import AdminClient

    topics = AdminClient({"bootstrap.servers": bed.bootstrap}).list_topics(timeout=10).topics
    assert bed.topic("readings") not in topics


def test_producer_waits_for_a_missing_topic(bed: Bed) -> None:
    """Topic creation off and no topic yet: the producer says it waits for the topic (no
    traceback), and once the topics exist it delivers every reading and exits 0."""
    producer = bed.start(
        "flead_producer",
        "producer",
        flead_producer_create_topics="false",
        flead_producer_topic_wait_seconds=120,
        flead_readings_partitions=2,
        flead_producer_synth_devices=2,
        flead_producer_synth_days=0.01,
        flead_metrics_port=free_port(),
    )
    wait_until(
        "the producer waits for its topic", lambda: "waiting for topic" in bed.log("producer"), 60
    )
    assert producer.poll() is None, bed.log("producer")
    bed.create_topics(2)
    assert producer.wait(120) == 0, bed.log("producer")
    log = bed.log("producer")
    assert "Traceback" not in log
    sent = [json.loads(line)["sent"] for line in log.splitlines() if '"event": "done"' in line]
    assert sent
    assert sum(partition_watermarks(bed, bed.topic("readings")).values()) == sent[-1]
