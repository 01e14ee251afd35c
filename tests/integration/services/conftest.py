"""Fixtures of the service integration tests: fresh topics and database, service processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient

from flead_producer.topics import ensure_topics
from flead_trainer.batch import read_results
from tests.support.testbed import unique, wait_until

TOKEN = "it-token"


@dataclass
class Bed:
    """Per-test names on the shared bed: topics, a database, and the processes started."""

    tmp: Path
    prefix: str = field(default_factory=lambda: unique("it"))
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        """Kafka of the bed."""
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")

    @property
    def mongo_uri(self) -> str:
        """FerretDB of the bed."""
        return os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")

    @property
    def db(self) -> str:
        """This test's database."""
        return self.prefix.replace("-", "_")

    def topic(self, name: str) -> str:
        """This test's copy of a FLEAD topic."""
        return f"{self.prefix}.{name}"

    def create_topics(self, partitions: int) -> None:
        """readings/labels with `partitions`, anomalies and dead-letter."""
        plan = {self.topic("readings"): partitions, self.topic("labels"): partitions}
        plan |= {self.topic("anomalies"): 1, self.topic("dead-letter"): 1}
        ensure_topics(self.bootstrap, plan)

    def env(self, **extra: str | int | float) -> dict[str, str]:
        """Environment of a service process pointed at this test's topics and database."""
        base = {
            "FLEAD_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "FLEAD_MONGODB_URI": self.mongo_uri,
            "FLEAD_MONGODB_DATABASE": self.db,
            "FLEAD_READINGS_TOPIC": self.topic("readings"),
            "FLEAD_LABELS_TOPIC": self.topic("labels"),
            "FLEAD_ANOMALIES_TOPIC": self.topic("anomalies"),
            "FLEAD_DEAD_LETTER_TOPIC": self.topic("dead-letter"),
            "FLEAD_AGGREGATOR_TOKEN": TOKEN,
            "FLEAD_LOG_FORMAT": "json",
            "PROMETHEUS_TARGETS_DIR": "",
        }
        return {**os.environ, **base, **{k.upper(): str(v) for k, v in extra.items()}}

    def start(self, module: str, name: str, **extra: str | int | float) -> subprocess.Popen[bytes]:
        """Start `python -m module`, logging to tmp/name.log."""
        log = (self.tmp / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", module], env=self.env(**extra), stdout=log, stderr=log
        )
        self.procs.append(proc)
        return proc

    def start_trainer(
        self, name: str, metrics_port: int, **extra: str | int | float
    ) -> subprocess.Popen[bytes]:
        """A trainer of partition 0 in this test's consumer group, with no aggregator reachable."""
        return self.start(
            "flead_trainer",
            name,
            flead_partitions="0",
            flead_consumer_group=self.prefix,
            flead_aggregator_url=f"http://127.0.0.1:{free_port()}",
            flead_metrics_port=metrics_port,
            **extra,
        )

    def log(self, name: str) -> str:
        """What a process logged so far."""
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def mongo(self) -> MongoClient[dict[str, object]]:
        """A client of the bed's FerretDB."""
        return MongoClient(self.mongo_uri, serverSelectionTimeoutMS=5000)

    def cleanup(self) -> None:
        """Stop processes, drop the database and the topics."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
        with self.mongo() as client:
            client.drop_database(self.db)
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(self.prefix)]
        if topics:
            for future in admin.delete_topics(topics).values():
                future.result(30)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, what: str, timeout: float = 60.0) -> None:
    """Poll a readiness URL until it answers 200."""

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(what, probe, timeout=timeout)


@pytest.fixture
def bed(tmp_path: Path) -> Iterator[Bed]:
    """A fresh namespace of topics and a database on the bed, cleaned up afterwards."""
    b = Bed(tmp_path)
    yield b
    b.cleanup()


def start_aggregator(b: Bed, **extra: str | int | float) -> tuple[str, subprocess.Popen[bytes]]:
    """An aggregator on a free port, ready; returns its URL and process."""
    port = free_port()
    proc = b.start("flead_aggregator", f"aggregator-{port}", flead_aggregator_port=port, **extra)
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/readyz", "aggregator /readyz")
    return url, proc


def partition_watermarks(b: Bed, topic: str) -> dict[int, int]:
    """Each partition's high watermark: the offset its next record will get."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": f"{b.prefix}-wm"})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    finally:
        c.close()


def high_watermarks(b: Bed, topic: str) -> int:
    """Records in a topic (sum of high watermarks; topics here are never compacted)."""
    return sum(partition_watermarks(b, topic).values())


def committed_offsets(b: Bed, topic: str, group: str) -> dict[int, int]:
    """The offsets `group` committed on each partition of `topic` (-1001 = none yet)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        done = c.committed([TopicPartition(topic, p) for p in parts], timeout=10)
        return {tp.partition: tp.offset for tp in done}
    finally:
        c.close()


def result_rows(b: Bed) -> list[tuple[int, int, str, float, bool]]:
    """Every durable per-reading result: (partition, offset, device, time, anomaly)."""
    rows = []
    with b.mongo() as client:
        for doc in client[b.db]["results"].find({"topic": b.topic("readings")}):
            r = read_results(doc)
            rows += [
                (r.partition, o, d, t, a)
                for o, d, t, a in zip(
                    r.offsets.tolist(),
                    r.devices.tolist(),
                    r.times.tolist(),
                    r.anomalies.tolist(),
                    strict=True,
                )
            ]
    return rows


def metric_value(url: str, sample: str) -> float:
    """One sample (name with labels, exactly as exposed) from a /metrics page; 0 when absent."""
    for line in httpx.get(url, timeout=5).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def start_two_partition_producer(
    b: Bed, name: str, seed: int = 0, **extra: str | int | float
) -> subprocess.Popen[bytes]:
    """A producer of half a day of 12 synthetic motes on two partitions (no labels)."""
    return b.start(
        "flead_producer",
        name,
        flead_readings_partitions=2,
        flead_producer_synth_devices=12,
        flead_producer_synth_days=0.5,
        flead_producer_synth_seed=seed,
        flead_producer_labels="none",
        flead_metrics_port=free_port(),
        **extra,
    )


def produce_two_partitions(b: Bed, seed: int) -> None:
    """Half a day of 12 synthetic motes on two partitions, all published before it returns."""
    producer = start_two_partition_producer(b, f"producer-{seed}", seed)
    assert producer.wait(120) == 0, b.log(f"producer-{seed}")


def metric_sum(url: str, name: str) -> float:
    """The sum of every sample of one metric (all label values) on a /metrics page."""
    total = 0.0
    for line in httpx.get(url, timeout=5).text.splitlines():
        if line.startswith((name + "{", name + " ")):
            total += float(line.split()[-1])
    return total


def handled(port: int) -> float:
    """Readings the trainer on `port` scored, plus the malformed ones it dead-lettered."""
    url = f"http://127.0.0.1:{port}/metrics"
    return consumed(port) + metric_sum(url, "flead_dead_letters_total")


def consumed(port: int) -> float:
    """Readings the trainer on `port` scored so far (0 while its HTTP server is not up)."""
    try:
        return metric_value(f"http://127.0.0.1:{port}/metrics", "flead_readings_consumed_total")
    except httpx.HTTPError:
        return 0.0


def assert_each_offset_once(b: Bed, end: dict[int, int]) -> None:
    """Every offset below `end` (partition -> high watermark) of the readings topic has exactly
    one durable result: none missing, none twice."""
    counts = Counter((r[0], r[1]) for r in result_rows(b))
    expected = {(p, o) for p, n in end.items() for o in range(n)}
    assert set(counts) == expected, f"missing: {sorted(expected - set(counts))[:5]}"
    assert max(counts.values()) == 1, f"duplicated: {[k for k, v in counts.items() if v > 1][:5]}"


def close_last_round(b: Bed, url: str) -> dict[str, int]:
    """Aggregate what is pending, then check every accepted update is in exactly one version
    (and that some were accepted); returns {accepted, versions}."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    httpx.post(f"{url}/api/aggregate", headers=auth, timeout=30).raise_for_status()
    registry = assert_each_update_in_one_version(b)
    assert registry["accepted"] > 0
    return registry


def assert_each_update_in_one_version(b: Bed) -> dict[str, int]:
    """Every update the aggregator accepted (stored) and did not drop is in exactly one
    registry version's lineage, and no version holds an update it never accepted; returns
    {accepted, versions}."""
    with b.mongo() as client:
        db = client[b.db]
        kept = {str(d["_id"]) for d in db["updates"].find({}) if d.get("version") != -1}
        lineage = Counter(
            str(uid)
            for d in db["models"].find({}, {"lineage": 1})
            for uid in d["lineage"]["update_ids"]
        )
        versions = db["models"].count_documents({})
    assert set(lineage) == kept, (
        f"accepted, in no version: {sorted(kept - set(lineage))[:5]}; "
        f"in a version, never accepted: {sorted(set(lineage) - kept)[:5]}"
    )
    assert max(lineage.values(), default=1) == 1, [u for u, n in lineage.items() if n > 1][:5]
    return {"accepted": len(kept), "versions": versions}
