"""The trainer serves only the devices its assignment file lists: paused and unknown ones are
counted, deleted ones leave the checkpoint, and a changed file is followed without a restart."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from confluent_kafka import Producer

from flead.wire import encode_reading
from tests.integration.services.conftest import (
    Bed,
    committed_offsets,
    free_port,
    metric_value,
    result_rows,
)
from tests.support.testbed import wait_until

pytestmark = pytest.mark.integration


def write_assignment(path: Path, revision: str, devices: dict[str, dict[str, object]]) -> None:
    """The file the operator's ConfigMap would be mounted as (written whole, then renamed)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, "revision": revision, "devices": devices}))
    tmp.replace(path)


def produce(bed: Bed, devices: list[str], rounds: int, t0: float) -> int:
    """`rounds` readings of each device on partition 0; returns how many."""
    producer = Producer({"bootstrap.servers": bed.bootstrap})
    for r in range(rounds):
        for d in devices:
            value = encode_reading(d, t0 + 31.0 * r, {"temperature": 20.0, "humidity": 40.0})
            producer.produce(bed.topic("readings"), value, d.encode(), partition=0)
    assert producer.flush(30) == 0
    return rounds * len(devices)


def checkpointed(bed: Bed) -> set[str]:
    """Devices in the newest checkpoint of partition 0."""
    with bed.mongo() as client:
        db = client[bed.db]
        topic = bed.topic("readings")
        manifest = db[f"manifests.{topic}.0"].find_one({}, sort=[("_id", -1)])
        assert manifest is not None
        return {
            str(doc["_id"])
            for g in manifest["segments"]
            for doc in db[f"devices.{topic}.0.{g}"].find({}, {"_id": 1})
        }


def test_trainer_serves_only_its_assigned_devices(bed: Bed) -> None:
    """Only `a` is scored; `b` (paused) and `c` (unassigned) are counted by reason and logged
    once each; after the file drops `a` and resumes `b`, `a` leaves the checkpoint and `b` is
    served by the same process."""
    bed.create_topics(1)
    path = bed.tmp / "devices.json"
    write_assignment(path, "r1", {"a": {}, "b": {"paused": True}})
    first = produce(bed, ["a", "b", "c"], 40, 1_000_000.0)
    port = free_port()
    trainer = bed.start_trainer(
        "trainer",
        port,
        flead_trainer_checkpoint_seconds=0.5,
        flead_trainer_assignment_file=str(path),
        flead_trainer_assignment_poll_seconds=0.2,
    )
    metrics = f"http://127.0.0.1:{port}/metrics"
    wait_until(
        "the first readings committed",
        lambda: committed_offsets(bed, bed.topic("readings"), bed.prefix).get(0) == first,
        timeout=90,
    )
    assert {row[2] for row in result_rows(bed)} == {"a"}
    assert len(result_rows(bed)) == 40
    unserved = 'flead_unserved_readings_total{reason="%s"}'
    assert metric_value(metrics, unserved % "paused") == 40
    assert metric_value(metrics, unserved % "unassigned") == 40
    lines = [x for x in bed.log("trainer").splitlines() if "does not serve" in x]
    assert sorted(json.loads(x)["device"] for x in lines) == ["b", "c"]  # once a minute each
    assert checkpointed(bed) == {"a"}

    write_assignment(path, "r2", {"b": {}})
    wait_until("the new assignment read", lambda: '"revision": "r2"' in bed.log("trainer"), 30)
    second = produce(bed, ["b"], 10, 2_000_000.0)
    wait_until(
        "b's readings committed",
        lambda: committed_offsets(bed, bed.topic("readings"), bed.prefix).get(0) == first + second,
        timeout=60,
    )
    assert sum(row[2] == "b" for row in result_rows(bed)) == 10
    assert checkpointed(bed) == {"b"}, "a deleted device stays out of the checkpoint"
    trainer.send_signal(signal.SIGTERM)
    assert trainer.wait(60) == 0
