"""A trainer killed with SIGKILL mid-stream and restarted: every reading's result exactly once."""

from __future__ import annotations

import json
import signal
from collections import Counter

import pytest

from tests.integration.services.conftest import Bed, free_port, high_watermarks, result_rows
from tests.support.testbed import wait_until

pytestmark = pytest.mark.integration


def trainer_env(b: Bed) -> dict[str, str | int | float]:
    """A slow-ish trainer (tiny batches) so the kill lands mid-stream; no aggregator reachable."""
    return {
        "flead_partitions": "0,1",
        "flead_partition_group": "g0",
        "flead_consumer_group": b.prefix,
        "flead_aggregator_url": f"http://127.0.0.1:{free_port()}",
        "flead_trainer_batch_size": 20,
        "flead_metrics_port": free_port(),
    }


def test_sigkill_then_restart_loses_and_duplicates_nothing(bed: Bed) -> None:
    """Kill -9 after ~1/4 of the stream, restart: the results hold each offset exactly once."""
    bed.create_topics(2)
    producer = bed.start(
        "flead_producer",
        "producer",
        flead_readings_partitions=2,
        flead_producer_synth_devices=12,
        flead_producer_synth_days=0.5,
        flead_producer_labels="none",
        flead_metrics_port=free_port(),
    )
    assert producer.wait(120) == 0, bed.log("producer")
    total = high_watermarks(bed, bed.topic("readings"))
    assert total > 10_000

    first = bed.start("flead_trainer", "trainer-1", **trainer_env(bed))
    wait_until(
        "a quarter of the results",
        lambda: len(result_rows(bed)) >= total // 4,
        timeout=120,
        interval=0.1,
    )
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    done_before = len(result_rows(bed))
    assert done_before < total, "the trainer finished before the kill; the test proves nothing"

    second = bed.start("flead_trainer", "trainer-2", **trainer_env(bed))
    wait_until(
        "every reading's result",
        lambda: len({(r[0], r[1]) for r in result_rows(bed)}) >= total,
        timeout=180,
    )
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0, bed.log("trainer-2")

    rows = result_rows(bed)
    counts = Counter((r[0], r[1]) for r in rows)
    assert len(counts) == total
    assert max(counts.values()) == 1, f"duplicated: {[k for k, v in counts.items() if v > 1][:5]}"
    assigned = [json.loads(x) for x in bed.log("trainer-2").splitlines() if '"assigned"' in x]
    assert max(assigned[0]["resumed"].values()) > 0, "the restart did not resume from a checkpoint"
