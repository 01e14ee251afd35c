"""A trainer killed with SIGKILL and restarted: every reading's result exactly once.

The kill points are fixed by offsets, never by racing the trainer's poll loop: the stream is
produced in two parts, and each kill waits for a state the test can observe exactly (every
record of the first part scored with nothing durable; then every record of it committed).
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from typing import Any

import pytest

from tests.integration.services.conftest import (
    Bed,
    committed_offsets,
    consumed,
    free_port,
    partition_watermarks,
    produce_two_partitions,
    result_rows,
    start_aggregator,
)
from tests.support.testbed import wait_until

pytestmark = pytest.mark.integration


def trainer_env(
    b: Bed, aggregator: str, metrics_port: int, checkpoint_seconds: float
) -> dict[str, Any]:
    """A trainer of both partitions that adopts the aggregator's global model before it learns."""
    return {
        "flead_partitions": "0,1",
        "flead_partition_group": "g0",
        "flead_consumer_group": b.prefix,
        "flead_aggregator_url": aggregator,
        "flead_trainer_batch_size": 200,
        "flead_trainer_checkpoint_seconds": checkpoint_seconds,
        "flead_metrics_port": metrics_port,
    }


def resumed(b: Bed, name: str) -> dict[int, int]:
    """The offsets a trainer process said it resumed each partition at."""
    lines = [json.loads(x) for x in b.log(name).splitlines() if '"assigned"' in x]
    assert lines, b.log(name)
    return {int(p): int(o) for p, o in lines[0]["resumed"].items()}


def test_sigkill_then_restart_loses_and_duplicates_nothing(bed: Bed) -> None:
    """Kill before any checkpoint, then after one and before the rest arrives: each restart
    resumes exactly at the durable offsets and every offset's result is held exactly once."""
    bed.create_topics(2)
    aggregator, _ = start_aggregator(bed)
    readings = bed.topic("readings")
    produce_two_partitions(bed, seed=0)
    first = partition_watermarks(bed, readings)
    first_total = sum(first.values())
    assert first_total > 5_000
    assert min(first.values()) > 0, first

    # Kill 1: the whole first part scored, nothing durable (its first checkpoint is an hour away).
    port = free_port()
    one = bed.start("flead_trainer", "trainer-1", **trainer_env(bed, aggregator, port, 3600.0))
    wait_until("trainer-1 scored the first part", lambda: consumed(port) >= first_total, 120)
    one.send_signal(signal.SIGKILL)
    one.wait(10)
    assert result_rows(bed) == [], "trainer-1 made results durable: the kill point is not before"
    none = committed_offsets(bed, readings, bed.prefix)
    assert max(none.values()) < 0, f"trainer-1 committed offsets {none}"

    # Kill 2: the first part durable and committed, the second part not produced yet.
    two = bed.start("flead_trainer", "trainer-2", **trainer_env(bed, aggregator, free_port(), 0.2))
    wait_until(
        "trainer-2 committed the first part",
        lambda: committed_offsets(bed, readings, bed.prefix) == first,
        timeout=120,
    )
    two.send_signal(signal.SIGKILL)
    two.wait(10)

    produce_two_partitions(bed, seed=1)
    total = sum(partition_watermarks(bed, readings).values())
    assert total > first_total
    three = bed.start(
        "flead_trainer", "trainer-3", **trainer_env(bed, aggregator, free_port(), 0.2)
    )
    wait_until(
        "every reading's result",
        lambda: len({(r[0], r[1]) for r in result_rows(bed)}) >= total,
        timeout=180,
    )
    three.send_signal(signal.SIGTERM)
    assert three.wait(30) == 0, bed.log("trainer-3")

    counts = Counter((r[0], r[1]) for r in result_rows(bed))
    assert len(counts) == total
    assert max(counts.values()) == 1, f"duplicated: {[k for k, v in counts.items() if v > 1][:5]}"
    assert resumed(bed, "trainer-3") == first, "the restart did not resume at the checkpoint"
