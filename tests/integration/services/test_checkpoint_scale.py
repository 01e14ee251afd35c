"""5,000 devices in one partition: per-device checkpoint documents, only changed devices written."""

from __future__ import annotations

import signal
import time

import pytest
from bson import encode
from confluent_kafka import Producer

from flead.wire import encode_reading
from tests.integration.services.conftest import Bed, committed_offsets, free_port, metric_value
from tests.support.testbed import wait_until

pytestmark = pytest.mark.integration

DEVICES = 5000
MIB16 = 16 * 1024 * 1024


def produce(bed: Bed, devices: range, rounds: int, t0: float) -> int:
    """`rounds` readings of each device, device-interleaved, to partition 0; returns the count."""
    producer = Producer({"bootstrap.servers": bed.bootstrap, "linger.ms": 20})
    n = 0
    for r in range(rounds):
        for d in devices:
            value = encode_reading(str(d), t0 + 31.0 * r, {"temperature": 20.0 + d % 7})
            producer.produce(bed.topic("readings"), value, str(d).encode(), partition=0)
            n += 1
            if n % 10_000 == 0:
                producer.poll(0)
    assert producer.flush(60) == 0
    return n


def checkpointed_devices(bed: Bed) -> tuple[int, set[str], int]:
    """(next offset, devices in the newest manifest's segments, largest document's BSON size)."""
    with bed.mongo() as client:
        db = client[bed.db]
        topic = bed.topic("readings")
        manifest = db[f"manifests.{topic}.0"].find_one({}, sort=[("_id", -1)])
        assert manifest is not None, "no checkpoint manifest"
        devices: set[str] = set()
        largest = len(encode(manifest))
        for g in manifest["segments"]:
            for doc in db[f"devices.{topic}.0.{g}"].find({}):
                devices.add(str(doc["_id"]))
                largest = max(largest, len(encode(doc)))
        return int(manifest["next_offset"]), devices, largest


def test_five_thousand_devices_checkpoint_and_restore(bed: Bed) -> None:
    """5,000 devices on one partition checkpoint as small per-device documents (none near the 16
    MiB limit), offsets are committed after them, an interval that touched 500 devices writes 500,
    and a restart restores all 5,000 from the checkpoint."""
    bed.create_topics(1)
    readings = bed.topic("readings")
    first = produce(bed, range(DEVICES), 2, 1_000_000.0)
    port = free_port()
    env = {
        "flead_partitions": "0",
        "flead_consumer_group": bed.prefix,
        "flead_aggregator_url": f"http://127.0.0.1:{free_port()}",
        "flead_metrics_port": port,
        "flead_trainer_checkpoint_seconds": 1.0,
    }
    metrics = f"http://127.0.0.1:{port}/metrics"
    started = time.monotonic()
    trainer = bed.start("flead_trainer", "trainer", **env)
    wait_until(
        "every reading checkpointed and committed",
        lambda: committed_offsets(bed, readings, bed.prefix).get(0) == first,
        timeout=300,
    )
    wall = time.monotonic() - started
    offset, devices, largest = checkpointed_devices(bed)
    assert offset == first
    assert devices == {str(d) for d in range(DEVICES)}, "every device has a state document"
    assert largest < MIB16 // 100, f"largest checkpoint document {largest} bytes"
    written = metric_value(metrics, "flead_checkpoint_bytes_written_total")
    seconds = metric_value(metrics, "flead_checkpoint_duration_seconds_sum")
    devices_written = metric_value(metrics, "flead_checkpoint_devices_written_total")
    print(
        f"\n5,000 devices: {written / 1e6:.1f} MB checkpointed in {wall:.1f} s wall "
        f"({written / wall / 1e6:.1f} MB/s of wall time; {written / seconds / 1e6:.1f} MB/s while "
        f"writing); {devices_written:.0f} device documents, largest {largest} bytes"
    )

    # An interval that touches 500 devices writes exactly those 500.
    second = produce(bed, range(500), 1, 2_000_000.0)
    wait_until(
        "the 500-device interval committed",
        lambda: committed_offsets(bed, readings, bed.prefix).get(0) == first + second,
        timeout=120,
    )
    assert metric_value(metrics, "flead_checkpoint_devices_written_total") == devices_written + 500

    trainer.send_signal(signal.SIGTERM)
    assert trainer.wait(60) == 0
    restarted = bed.start("flead_trainer", "trainer-2", **env)
    wait_until(
        "the restarted trainer assigned its partition",
        lambda: '"event": "assigned"' in bed.log("trainer-2"),
        timeout=120,
    )
    line = next(x for x in bed.log("trainer-2").splitlines() if '"event": "assigned"' in x)
    assert f'"devices": {DEVICES}' in line, line
    assert '"resumed": {"0": ' + str(first + second) + "}" in line, line
    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(60) == 0
