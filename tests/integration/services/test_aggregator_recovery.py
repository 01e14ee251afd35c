"""The aggregator SIGKILLed mid-round, alone and under a streaming trainer: nothing lost or doubled."""

from __future__ import annotations

import json
import signal
import subprocess

import httpx
import numpy as np
import pytest

from flead.wire import decode_arrays, encode_arrays
from tests.integration.services.conftest import (
    TOKEN,
    Bed,
    assert_each_offset_once,
    close_last_round,
    committed_offsets,
    consumed,
    free_port,
    handled,
    metric_value,
    partition_watermarks,
    start_aggregator,
    start_two_partition_producer,
    wait_ready,
)
from tests.support.testbed import wait_until

pytestmark = pytest.mark.integration

SETTINGS = {"flead_aggregator_min_updates": 3, "flead_aggregator_round_timeout_seconds": 3600}
READINGS = 12_000


def post(url: str, uid: str, weights: list[np.ndarray]) -> int:
    """Send one binary update; returns the status code."""
    blob = encode_arrays(weights, {"device": uid, "samples": 10, "base_version": 0})
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Idempotency-Key": uid,
        "Content-Type": "application/octet-stream",
    }
    return httpx.post(f"{url}/api/local-update", content=blob, headers=headers).status_code


def test_kill_mid_round_loses_no_update(bed: Bed) -> None:
    """Two of three updates accepted, SIGKILL, restart: both pending, the third closes the round."""
    url, proc = start_aggregator(bed, **SETTINGS)
    base, _ = decode_arrays(httpx.get(f"{url}/api/global-model").content)
    step = [w + np.float32(0.01) for w in base]
    assert post(url, "a", step) == 202
    assert post(url, "b", step) == 202
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)

    url, proc = start_aggregator(bed, **SETTINGS)
    assert httpx.get(f"{url}/api/status").json()["pending_updates"] == 2
    assert post(url, "a", step) == 200  # still known after the restart: a duplicate
    assert post(url, "c", step) == 202
    status = httpx.get(f"{url}/api/status").json()
    assert status["global_version"] == 1
    assert status["pending_updates"] == 0
    latest = httpx.get(f"{url}/api/history").json()[0]
    assert latest["lineage"]["update_ids"] == ["a", "b", "c"]
    assert latest["lineage"]["samples"] == 30
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_aggregator_killed_under_a_streaming_trainer_exactly_once(bed: Bed) -> None:
    """The aggregator SIGKILLed once it accepted an update from a trainer consuming a live
    stream, restarted on the same port and data after the trainer saw it gone: the trainer
    never exits and keeps consuming, its undelivered updates wait (samples kept) and are
    resent; every offset has exactly one durable result and every accepted update is in
    exactly one version."""
    bed.create_topics(2)
    readings = bed.topic("readings")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = {"flead_aggregator_min_updates": 1, "flead_aggregator_round_timeout_seconds": 1}

    def start() -> subprocess.Popen[bytes]:
        proc = bed.start(
            "flead_aggregator", f"aggregator-{port}", flead_aggregator_port=port, **settings
        )
        wait_ready(f"{url}/readyz", "aggregator /readyz")
        return proc

    aggregator = start()
    tport = free_port()
    trainer = bed.start(
        "flead_trainer", "trainer", flead_partitions="0,1", flead_partition_group="g0",
        flead_consumer_group=bed.prefix, flead_aggregator_url=url,
        flead_trainer_update_every_samples=300, flead_trainer_update_every_seconds=2,
        flead_trainer_aggregator_backoff_max_seconds=2, flead_metrics_port=tport,
    )  # fmt: skip
    producer = start_two_partition_producer(
        bed, "producer", flead_producer_rate=500, flead_producer_max_readings=READINGS
    )
    accepted = 'flead_updates_total{outcome="accepted"}'
    wait_until("an update accepted", lambda: metric_value(f"{url}/metrics", accepted) >= 1, 120)
    assert producer.poll() is None, "the producer finished before the fault: nothing tested"

    aggregator.send_signal(signal.SIGKILL)
    aggregator.wait(10)
    trainer_metrics = f"http://127.0.0.1:{tport}/metrics"
    wait_until(
        "the trainer sees the aggregator gone",
        lambda: metric_value(trainer_metrics, 'flead_dependency_up{dependency="aggregator"}') == 0,
        timeout=30,
    )
    at_kill = consumed(tport)
    wait_until("the trainer keeps consuming", lambda: consumed(tport) > at_kill, timeout=30)
    assert trainer.poll() is None, bed.log("trainer")
    aggregator = start()

    assert producer.wait(180) == 0, bed.log("producer")
    end = partition_watermarks(bed, readings)
    wait_until(
        "every offset committed",
        lambda: committed_offsets(bed, readings, bed.prefix) == end,
        timeout=180,
    )
    wait_until(
        "updates delivered again",
        lambda: metric_value(trainer_metrics, 'flead_dependency_up{dependency="aggregator"}') == 1,
        timeout=60,
    )
    assert trainer.poll() is None, bed.log("trainer")
    assert_each_offset_once(bed, end)
    assert handled(tport) == READINGS
    trainer.terminate()
    assert trainer.wait(30) == 0, bed.log("trainer")
    registry = close_last_round(bed, url)
    aggregator.terminate()
    assert aggregator.wait(30) == 0
    print(json.dumps(registry))
