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
    assert_each_offset_once,
    close_last_round,
    committed_offsets,
    consumed,
    free_port,
    handled,
    metric_value,
    partition_watermarks,
    produce_two_partitions,
    result_rows,
    start_aggregator,
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


LONG_OUTAGE_SECONDS = 90.0


def aggregator_ready(url: str) -> bool:
    """Whether the aggregator's /readyz answers 200."""
    try:
        return httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def test_mongodb_down_90s_under_the_stack_and_a_trainer_starting_meanwhile(
    bed: Bed, bed_component_down: Callable[..., AbstractContextManager[None]]
) -> None:
    """FerretDB SIGKILLed for 90 s under an aggregator and a trainer of partition 0, while a
    trainer of partition 1 starts (MongoDB already down: it waits, it does not crash) and the
    second part of the stream arrives. Nobody exits; the aggregator refuses writes (503) and
    serves the model; afterwards everyone is ready again without a restart, every offset of
    both partitions has exactly one durable result, and every update the aggregator accepted
    is in exactly one version."""
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
        "flead_trainer_aggregator_backoff_max_seconds": 2,
        "flead_trainer_batch_size": 200,
        "flead_trainer_checkpoint_seconds": 0.05,
        "flead_trainer_retry_max_seconds": 1.0,
        "flead_trainer_mongodb_timeout_seconds": 1.0,
    }
    port_a, port_b = free_port(), free_port()
    trainer_a = bed.start(
        "flead_trainer", "trainer-a", flead_partitions="0", flead_partition_group="ga",
        flead_metrics_port=port_a, **common,
    )  # fmt: skip
    produce_two_partitions(bed, seed=0)
    first = partition_watermarks(bed, readings)
    wait_until(
        "partition 0's first part committed",
        lambda: committed_offsets(bed, readings, bed.prefix)[0] == first[0],
        timeout=120,
    )
    wait_until("trainer a ready", lambda: readyz(port_a)[0] == 200, timeout=30)

    with bed_component_down("ferretdb", LONG_OUTAGE_SECONDS):
        down_at = time.monotonic()
        trainer_b = bed.start(
            "flead_trainer", "trainer-b", flead_partitions="1", flead_partition_group="gb",
            flead_metrics_port=port_b, **common,
        )  # fmt: skip
        produce_two_partitions(bed, seed=1)
        wait_until(
            "trainer a: /readyz 503 naming mongodb",
            lambda: (s := readyz(port_a))[0] == 503 and "mongodb" in s[1],
            timeout=30,
        )
        wait_until(
            "trainer b waits for MongoDB at start",
            lambda: consumed(port_b) == 0 and "checkpoint load" in bed.log("trainer-b"),
            timeout=30,
        )
        wait_until("aggregator: /readyz 503", lambda: not aggregator_ready(url), timeout=30)
        assert httpx.get(f"{url}/api/global-model", timeout=10).status_code == 200
        held = consumed(port_a)
        # Until just before the restart: nobody exits, nothing is consumed or committed.
        while time.monotonic() - down_at < LONG_OUTAGE_SECONDS - 5:
            for name, proc in (("trainer-a", trainer_a), ("trainer-b", trainer_b)):
                assert proc.poll() is None, bed.log(name)
            assert aggregator.poll() is None, bed.log(f"aggregator-{url.rsplit(':', 1)[1]}")
            time.sleep(1.0)
        assert consumed(port_a) == held, "trainer a consumed while MongoDB was down"
        assert consumed(port_b) == 0, "trainer b consumed while MongoDB was down"
        committed = committed_offsets(bed, readings, bed.prefix)
        assert committed[0] == first[0]
        assert committed[1] < 0, committed  # trainer b committed nothing yet
        assert time.monotonic() - down_at < LONG_OUTAGE_SECONDS, "the checks outlasted the outage"
    back_at = time.monotonic()

    for what, ok in (
        ("trainer a ready again", lambda: readyz(port_a)[0] == 200),
        ("trainer b ready", lambda: readyz(port_b)[0] == 200),
        ("aggregator ready again", lambda: aggregator_ready(url)),
    ):
        wait_until(what, ok, timeout=120)
    ready_after = time.monotonic() - back_at
    end = partition_watermarks(bed, readings)
    wait_until(
        "every offset committed",
        lambda: committed_offsets(bed, readings, bed.prefix) == end,
        timeout=180,
    )
    caught_up = time.monotonic() - back_at
    assert_each_offset_once(bed, end)
    assert handled(port_a) + handled(port_b) == sum(end.values())
    for name, proc in (("trainer-a", trainer_a), ("trainer-b", trainer_b)):
        proc.terminate()
        assert proc.wait(30) == 0, bed.log(name)
    registry = close_last_round(bed, url)
    refused = metric_value(f"{url}/metrics", 'flead_updates_total{outcome="unavailable"}')
    aggregator.terminate()
    assert aggregator.wait(30) == 0
    print(
        json.dumps(
            {
                "outage_s": LONG_OUTAGE_SECONDS,
                "ready_after_restart_s": round(ready_after, 2),
                "caught_up_after_restart_s": round(caught_up, 2),
                "aggregator_refused_503": refused,
                **registry,
            }
        )
    )
