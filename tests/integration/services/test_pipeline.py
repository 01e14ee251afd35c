"""54 devices end to end: producer -> 3 trainers x 4 partitions -> aggregator, on the real bed."""

from __future__ import annotations

import signal

import httpx
import numpy as np
import pytest

from flead.data.synth import FAULT_TYPES, generate
from tests.integration.services.conftest import (
    Bed,
    free_port,
    high_watermarks,
    metric_value,
    result_rows,
    start_aggregator,
)
from tests.support.testbed import wait_until

pytestmark = pytest.mark.integration

DAYS = 1.0


def test_pipeline_flags_faults_and_federates(bed: Bed) -> None:
    """Every reading is scored once, injected faults are flagged, rounds advance the global model."""
    bed.create_topics(12)
    url, _ = start_aggregator(
        bed, flead_aggregator_min_updates=5, flead_aggregator_round_timeout_seconds=5
    )
    ports = [free_port() for _ in range(3)]
    trainers = [
        bed.start(
            "flead_trainer",
            f"trainer-{i}",
            flead_partitions=",".join(str(p) for p in range(4 * i, 4 * i + 4)),
            flead_partition_group=f"group-{i}",
            flead_consumer_group=f"{bed.prefix}-group-{i}",
            flead_aggregator_url=url,
            flead_trainer_update_every_samples=400,
            flead_trainer_update_every_seconds=5,
            flead_trainer_model_poll_seconds=2,
            flead_metrics_port=ports[i],
        )
        for i in range(3)
    ]
    producer = bed.start(
        "flead_producer",
        "producer",
        flead_producer_synth_days=DAYS,
        flead_metrics_port=free_port(),
    )
    assert producer.wait(180) == 0, bed.log("producer")
    total = high_watermarks(bed, bed.topic("readings"))
    assert high_watermarks(bed, bed.topic("labels")) == total

    wait_until(
        "all readings scored", lambda: len(result_rows(bed)) >= total, timeout=300, interval=2
    )
    rows = result_rows(bed)
    assert len({(r[0], r[1]) for r in rows}) == len(rows) == total

    # Injected faults are flagged (well above the false-alarm rate of healthy rows).
    truth = generate(seed=0, devices=54, days=DAYS).readings
    fault = {
        (str(d), float(t)): str(f)
        for d, t, f in zip(truth.device, truth.time, truth.fault, strict=True)
    }
    kinds = np.array([fault.get((r[2], float(r[3])), "?") for r in rows], dtype=object)
    flagged = np.array([r[4] for r in rows], dtype=bool)
    assert (kinds == "?").sum() == 0
    injected = np.isin(kinds, FAULT_TYPES)
    healthy = kinds == ""
    recall, false_alarms = flagged[injected].mean(), flagged[healthy].mean()
    assert recall > 2 * false_alarms, (recall, false_alarms)

    # Federation: rounds happened, are listed with lineage, and trainers adopted a new version.
    wait_until(
        "a completed round",
        lambda: httpx.get(f"{url}/api/status").json()["global_version"] >= 1,
        timeout=60,
    )
    rounds = [h for h in httpx.get(f"{url}/api/history").json() if h["kind"] == "round"]
    assert rounds
    assert all(h["lineage"]["participants"] >= 1 for h in rounds)
    wait_until(
        "a trainer on a new global version",
        lambda: max(
            metric_value(f"http://127.0.0.1:{p}/metrics", "flead_trainer_global_version")
            for p in ports
        )
        >= 1,
        timeout=60,
    )
    with bed.mongo() as client:
        assert 0 < client[bed.db]["anomalies"].count_documents({}) <= int(flagged.sum())
    for t in trainers:
        t.send_signal(signal.SIGTERM)
    assert [t.wait(30) for t in trainers] == [0, 0, 0]
