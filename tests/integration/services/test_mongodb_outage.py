"""FerretDB (the trainer's MongoDB) killed for 15 s under a running trainer: it rides it out.

The fault points are observable states, never races with the trainer's loop: the database goes
down only once the first part of the stream is committed, the second part is produced while it
is down, and the outage is declared seen only when the trainer's /readyz and metrics say so.
Only the outage length itself is a wall-clock wait (the restart happens 15 s after the kill).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest

from tests.integration.services.conftest import (
    Bed,
    committed_offsets,
    consumed,
    free_port,
    metric_value,
    partition_watermarks,
    produce_two_partitions,
    result_rows,
)
from tests.support.testbed import wait_until

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 15.0
DOWN = 'flead_dependency_up{dependency="mongodb"}'
RETRIES = 'flead_dependency_retries_total{dependency="mongodb"}'


def readyz(port: int) -> tuple[int, str]:
    """Status and body of the trainer's /readyz (its ping may take the 5 s server timeout)."""
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    except httpx.HTTPError as exc:
        return 0, str(exc)
    return r.status_code, r.text


def metric(port: int, sample: str) -> float:
    """One sample of the trainer's /metrics."""
    return metric_value(f"http://127.0.0.1:{port}/metrics", sample)


def test_mongodb_down_15s_pauses_then_resumes_exactly_once(
    bed: Bed, bed_component_down: Callable[..., AbstractContextManager[None]]
) -> None:
    """With FerretDB SIGKILLed for 15 s and restarted on the same data, the trainer never
    exits, stops consuming and commits nothing while it is down (/readyz 503 naming mongodb,
    flead_dependency_up 0, retries counted), becomes ready again after it, and every offset of
    the readings topic ends with exactly one durable result."""
    bed.create_topics(2)
    readings = bed.topic("readings")
    produce_two_partitions(bed, seed=0)
    first = partition_watermarks(bed, readings)
    assert min(first.values()) > 0, first
    port = free_port()
    trainer = bed.start(
        "flead_trainer",
        "trainer",
        flead_partitions="0,1",
        flead_partition_group="g0",
        flead_consumer_group=bed.prefix,
        flead_aggregator_url=f"http://127.0.0.1:{free_port()}",  # none: federation is not tested
        flead_trainer_batch_size=200,
        flead_trainer_checkpoint_seconds=0.05,  # held back within ~0.1 s of the outage
        flead_trainer_retry_max_seconds=1.0,
        flead_trainer_mongodb_timeout_seconds=1.0,
        flead_metrics_port=port,
    )
    wait_until(
        "the first part committed",
        lambda: committed_offsets(bed, readings, bed.prefix) == first,
        timeout=120,
    )
    wait_until("trainer ready", lambda: readyz(port)[0] == 200, timeout=30)

    with bed_component_down("ferretdb", OUTAGE_SECONDS):
        down_at = time.monotonic()
        produce_two_partitions(bed, seed=1)  # the second part arrives while the database is down
        total = sum(partition_watermarks(bed, readings).values())
        status, body = wait_until(
            "/readyz 503 naming mongodb",
            lambda: (s := readyz(port))[0] == 503 and "mongodb" in s[1] and s,
            timeout=OUTAGE_SECONDS,
        )
        assert metric(port, DOWN) == 0
        # Back-pressure: consumption stalls, no offset moves, the trainer is still there.
        held, retried = consumed(port), metric(port, RETRIES)
        wait_until("two more failed retries", lambda: metric(port, RETRIES) >= retried + 2, 10)
        assert consumed(port) == held, "the trainer kept consuming while MongoDB was down"
        assert held < total, "nothing was held back: the outage came too late to test anything"
        assert committed_offsets(bed, readings, bed.prefix) == first
        assert trainer.poll() is None, bed.log("trainer")
        assert time.monotonic() - down_at < OUTAGE_SECONDS, "the checks outlasted the outage"
    back_at = time.monotonic()

    wait_until("trainer ready again", lambda: readyz(port)[0] == 200, timeout=60)
    ready_after = time.monotonic() - back_at
    end = partition_watermarks(bed, readings)
    wait_until(
        "every offset committed",
        lambda: committed_offsets(bed, readings, bed.prefix) == end,
        timeout=120,
    )
    caught_up = time.monotonic() - back_at
    assert trainer.poll() is None, bed.log("trainer")
    assert metric(port, DOWN) == 1
    retries = metric(port, RETRIES)

    counts = Counter((r[0], r[1]) for r in result_rows(bed))
    expected = {(p, o) for p, n in end.items() for o in range(n)}
    assert set(counts) == expected, f"missing: {sorted(expected - set(counts))[:5]}"
    assert max(counts.values()) == 1, f"duplicated: {[k for k, v in counts.items() if v > 1][:5]}"
    assert consumed(port) == total, "a reading was scored twice (or not at all)"

    trainer.terminate()
    assert trainer.wait(30) == 0, bed.log("trainer")
    print(
        json.dumps(
            {
                "outage_s": OUTAGE_SECONDS,
                "readyz_503": f"{status} {body.strip()}",
                "ready_after_restart_s": round(ready_after, 2),
                "caught_up_after_restart_s": round(caught_up, 2),
                "retries": retries,
                "held_back_at": held,
                "total": total,
            }
        )
    )
