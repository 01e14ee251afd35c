"""A trainer frozen (SIGSTOP) for 30 s and continued: its lag grows, nothing else breaks."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
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

PAUSE_SECONDS = 30.0
READINGS = 15_000  # of the 15,357 rows of the stream


def lag(bed: Bed, partition: int) -> int:
    """Records of `partition` past the group's commit (the lag Kafka sees)."""
    readings = bed.topic("readings")
    end = partition_watermarks(bed, readings)[partition]
    return end - max(0, committed_offsets(bed, readings, bed.prefix)[partition])


def test_trainer_sigstop_30s_then_sigcont(bed: Bed) -> None:
    """Trainer a (partition 0) SIGSTOPped for 30 s under a live stream: its lag grows while
    trainer b (partition 1) keeps committing and the aggregator stays ready; after SIGCONT
    trainer a catches up by itself (its lag gauge back to 0), every offset has exactly one
    durable result and every accepted update is in exactly one version."""
    bed.create_topics(2)
    readings = bed.topic("readings")
    url, aggregator = start_aggregator(
        bed, flead_aggregator_min_updates=1, flead_aggregator_round_timeout_seconds=1
    )
    common = {
        "flead_consumer_group": bed.prefix,
        "flead_aggregator_url": url,
        "flead_trainer_update_every_samples": 300,
        "flead_trainer_update_every_seconds": 2,
    }
    port_a, port_b = free_port(), free_port()
    trainer_a = bed.start(
        "flead_trainer", "trainer-a", flead_partitions="0", flead_partition_group="ga",
        flead_metrics_port=port_a, **common,
    )  # fmt: skip
    trainer_b = bed.start(
        "flead_trainer", "trainer-b", flead_partitions="1", flead_partition_group="gb",
        flead_metrics_port=port_b, **common,
    )  # fmt: skip
    producer = start_two_partition_producer(
        bed, "producer", flead_producer_rate=400, flead_producer_max_readings=READINGS
    )
    wait_until(
        "both partitions committed something",
        lambda: min(committed_offsets(bed, readings, bed.prefix).values()) > 0,
        timeout=120,
    )
    assert producer.poll() is None, "the producer finished before the fault: nothing tested"

    os.kill(trainer_a.pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        lag_at_stop = lag(bed, 0)
        b_at_stop = committed_offsets(bed, readings, bed.prefix)[1]
        a_at_stop = committed_offsets(bed, readings, bed.prefix)[0]
        wait_until("trainer a's lag grows", lambda: lag(bed, 0) > lag_at_stop + 1000, 25)
        wait_until(
            "trainer b keeps committing",
            lambda: committed_offsets(bed, readings, bed.prefix)[1] > b_at_stop + 1000,
            timeout=25,
        )
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        assert committed_offsets(bed, readings, bed.prefix)[0] == a_at_stop
        for name, proc in (("trainer-b", trainer_b), ("producer", producer)):
            assert proc.poll() is None, bed.log(name)
        lag_before_cont = lag(bed, 0)
        time.sleep(max(0.0, PAUSE_SECONDS - (time.monotonic() - stopped_at)))  # the fault's length
    finally:
        os.kill(trainer_a.pid, signal.SIGCONT)
    cont_at = time.monotonic()

    assert producer.wait(180) == 0, bed.log("producer")
    end = partition_watermarks(bed, readings)
    assert sum(end.values()) == READINGS, f"the topic holds {end}, the producer sent {READINGS}"
    wait_until(
        "every offset committed",
        lambda: committed_offsets(bed, readings, bed.prefix) == end,
        timeout=180,
    )
    caught_up = time.monotonic() - cont_at
    wait_until(
        "trainer a's lag gauge back to 0",
        lambda: metric_value(
            f"http://127.0.0.1:{port_a}/metrics", 'flead_consumer_lag_messages{partition="0"}'
        )
        == 0,
        timeout=30,
    )
    for name, proc in (("trainer-a", trainer_a), ("trainer-b", trainer_b)):
        assert proc.poll() is None, bed.log(name)
    assert_each_offset_once(bed, end)
    assert handled(port_a) + handled(port_b) == READINGS, "a reading handled twice (or never)"
    for name, proc in (("trainer-a", trainer_a), ("trainer-b", trainer_b)):
        proc.terminate()
        assert proc.wait(30) == 0, bed.log(name)
    registry = close_last_round(bed, url)
    aggregator.terminate()
    assert aggregator.wait(30) == 0
    print(
        json.dumps(
            {
                "pause_s": PAUSE_SECONDS,
                "lag_at_stop": lag_at_stop,
                "lag_before_cont": lag_before_cont,
                "caught_up_after_cont_s": round(caught_up, 2),
                **registry,
            }
        )
    )
