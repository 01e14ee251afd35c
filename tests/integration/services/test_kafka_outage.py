"""The Kafka broker SIGKILLed under a streaming producer, a trainer and an aggregator, restarted on
the same data: everyone reconnects by themselves, nothing is lost or counted twice.

The kill happens once the trainer has committed part of the stream while the producer is still
producing; the outage is declared seen when the trainer reports kafka down. Only the outage length
is a wall-clock wait.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from tests.integration.services.conftest import (
    Bed,
    assert_each_offset_once,
    close_last_round,
    committed_offsets,
    free_port,
    handled,
    metric_value,
    partition_watermarks,
    start_aggregator,
    start_two_partition_producer,
)
from tests.support.testbed import wait_until

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 10.0
READINGS = 12_000
KAFKA_UP = 'flead_dependency_up{dependency="kafka"}'


def test_kafka_killed_and_restarted_everything_reconnects_exactly_once(
    bed: Bed, bed_component_down: Callable[..., AbstractContextManager[None]]
) -> None:
    """Kafka SIGKILLed for 10 s mid-stream and restarted on the same data: the producer delivers
    every reading exactly once (idempotent, retried) and exits 0, the trainer (librdkafka
    reconnecting, its commit and produce retried) never exits and ends with exactly one durable
    result per offset, and every update the aggregator accepted is in exactly one version."""
    bed.create_topics(2)
    readings = bed.topic("readings")
    url, aggregator = start_aggregator(
        bed, flead_aggregator_min_updates=1, flead_aggregator_round_timeout_seconds=1
    )
    port = free_port()
    trainer = bed.start(
        "flead_trainer",
        "trainer",
        flead_partitions="0,1",
        flead_partition_group="g0",
        flead_consumer_group=bed.prefix,
        flead_aggregator_url=url,
        flead_trainer_update_every_samples=300,
        flead_trainer_update_every_seconds=2,
        flead_trainer_checkpoint_seconds=0.05,
        flead_trainer_retry_max_seconds=1.0,
        flead_metrics_port=port,
    )
    producer = start_two_partition_producer(
        bed, "producer", flead_producer_rate=500, flead_producer_max_readings=READINGS
    )
    wait_until(
        "part of the stream committed",
        lambda: sum(max(0, o) for o in committed_offsets(bed, readings, bed.prefix).values()) > 0,
        timeout=120,
    )
    assert producer.poll() is None, "the producer finished before the fault: nothing tested"

    with bed_component_down("kafka", OUTAGE_SECONDS):
        wait_until(
            "the trainer sees kafka down",
            lambda: metric_value(f"http://127.0.0.1:{port}/metrics", KAFKA_UP) == 0,
            timeout=OUTAGE_SECONDS,
        )
        assert trainer.poll() is None, bed.log("trainer")
        assert producer.poll() is None, bed.log("producer")
    back_at = time.monotonic()

    assert producer.wait(180) == 0, bed.log("producer")
    end = partition_watermarks(bed, readings)
    assert sum(end.values()) == READINGS, f"the topic holds {end}, the producer sent {READINGS}"
    wait_until(
        "every offset committed",
        lambda: committed_offsets(bed, readings, bed.prefix) == end,
        timeout=180,
    )
    caught_up = time.monotonic() - back_at
    assert trainer.poll() is None, bed.log("trainer")
    assert_each_offset_once(bed, end)
    assert handled(port) == READINGS, "a reading was handled twice (or not at all)"
    assert metric_value(f"http://127.0.0.1:{port}/metrics", KAFKA_UP) == 1

    trainer.terminate()
    assert trainer.wait(30) == 0, bed.log("trainer")
    registry = close_last_round(bed, url)
    aggregator.terminate()
    assert aggregator.wait(30) == 0
    print(
        json.dumps(
            {
                "outage_s": OUTAGE_SECONDS,
                "caught_up_after_restart_s": round(caught_up, 2),
                **registry,
            }
        )
    )
