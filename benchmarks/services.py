"""Service benchmarks on the bed: trainer vs raw consume+parse, produce->result latency, ingest formats.

Each figure is printed beside a baseline from the same run on the same broker / server:
  1. trainer throughput (decode, score+learn, results+checkpoint in FerretDB, commit) vs a bare
     confluent-kafka consumer that only consumes and json-parses the same records (target >= 50 %);
  2. produce -> durable result latency p50/p99 while a producer sustains 10k readings/s, vs the
     bare consumer's produce -> consume latency (target p99 <= 100 ms);
  3. aggregator update ingest (HTTP, validation, durable insert) with flead.wire binary bodies vs
     the original JSON-list bodies, against one running aggregator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

REPO = Path(__file__).resolve().parents[1]
PARTITIONS = 4


def _bed_env() -> dict[str, str]:
    env_file = REPO / ".testbed/env"
    if not env_file.is_file():
        raise RuntimeError("test bed is not up (.testbed/env missing): run `make testbed`")
    out = subprocess.run(
        ["bash", "-c", f'set -a; . "{env_file}"; env -0'], capture_output=True, check=True
    ).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


class Scratch:
    """Topics and a database of one benchmark run, removed afterwards."""

    def __init__(self) -> None:
        bed = _bed_env()
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"
        self.bootstrap = bed["KAFKA_BOOTSTRAP_SERVERS"]
        self.env = {
            **os.environ,
            "FLEAD_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "FLEAD_MONGODB_URI": bed["MONGODB_URI"],
            "FLEAD_MONGODB_DATABASE": self.prefix.replace("-", "_"),
            "FLEAD_READINGS_TOPIC": f"{self.prefix}.readings",
            "FLEAD_LABELS_TOPIC": f"{self.prefix}.labels",
            "FLEAD_ANOMALIES_TOPIC": f"{self.prefix}.anomalies",
            "FLEAD_DEAD_LETTER_TOPIC": f"{self.prefix}.dead-letter",
            "FLEAD_READINGS_PARTITIONS": str(PARTITIONS),
            "FLEAD_PARTITIONS": ",".join(str(p) for p in range(PARTITIONS)),
            "FLEAD_CONSUMER_GROUP": self.prefix,
            "FLEAD_AGGREGATOR_URL": "http://127.0.0.1:9",  # no aggregator: updates back off
            "FLEAD_AGGREGATOR_TOKEN": "bench",
            "FLEAD_LOG_LEVEL": "WARNING",
            "FLEAD_PRODUCER_LABELS": "none",
            "FLEAD_PRODUCER_PROGRESS": "false",
            "PROMETHEUS_TARGETS_DIR": "",
        }
        self.logs = Path(tempfile.mkdtemp(prefix="flead-bench-"))
        from flead_producer.topics import ensure_topics

        ensure_topics(
            self.bootstrap,
            {
                self.env["FLEAD_READINGS_TOPIC"]: PARTITIONS,
                self.env["FLEAD_ANOMALIES_TOPIC"]: 1,
                self.env["FLEAD_DEAD_LETTER_TOPIC"]: 1,
            },
        )

    def spawn(self, module: str, name: str, **extra: str) -> subprocess.Popen[bytes]:
        """A service process with this run's environment."""
        log = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", module], env={**self.env, **extra}, stdout=log, stderr=log
        )

    def produce(self, rows: int, rate: float = 0.0) -> subprocess.Popen[bytes]:
        """Synthetic readings (54 devices) into the readings topic."""
        return self.spawn(
            "flead_producer",
            f"producer-{rate:g}",
            FLEAD_PRODUCER_MAX_READINGS=str(rows),
            FLEAD_PRODUCER_RATE=str(rate),
            FLEAD_PRODUCER_SYNTH_DAYS="2",
            FLEAD_METRICS_PORT=str(_free_port()),
        )

    def cleanup(self) -> None:
        """Drop the database and delete the topics."""
        from confluent_kafka.admin import AdminClient
        from pymongo import MongoClient

        with MongoClient(self.env["FLEAD_MONGODB_URI"]) as client:
            client.drop_database(self.env["FLEAD_MONGODB_DATABASE"])
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(self.prefix)]
        for future in admin.delete_topics(topics).values() if topics else []:
            future.result(30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raw_consume(sc: Scratch, rows: int, group: str) -> tuple[float, list[float]]:
    """Bare consumer: consume + json.loads `rows` records; (seconds, produce->consume latencies)."""
    c = Consumer(
        {
            "bootstrap.servers": sc.bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 50,
        }
    )
    c.assign(
        [
            TopicPartition(sc.env["FLEAD_READINGS_TOPIC"], p, OFFSET_BEGINNING)
            for p in range(PARTITIONS)
        ]
    )
    seen, lat, started = 0, [], time.perf_counter()
    while seen < rows and time.perf_counter() - started < 300:
        msgs = c.consume(500, 1.0)
        now = time.time()
        for m in msgs:
            json.loads(m.value())
            lat.append(now - m.timestamp()[1] / 1e3)
        seen += len(msgs)
    elapsed = time.perf_counter() - started
    c.close()
    return elapsed, lat


class TimedConsumer:
    """A consumer that remembers each consumed record's produce timestamp (seconds)."""

    def __init__(self, inner: Consumer) -> None:
        self.inner = inner
        self.stamps: list[float] = []

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        """Consume and remember the records' CreateTime."""
        msgs = self.inner.consume(num_messages, timeout)
        self.stamps += [m.timestamp()[1] / 1e3 for m in msgs if m.error() is None]
        return msgs

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _trainer(sc: Scratch, rows: int, deadline: float = 300.0) -> tuple[float, list[float]]:
    """FLEAD's trainer loop in this process: (seconds for `rows`, produce->durable latencies)."""
    saved = dict(os.environ)
    os.environ.update(sc.env)
    try:
        from flead_trainer.client import AggregatorClient
        from flead_trainer.kafka_io import make_clients
        from flead_trainer.loop import Trainer
        from flead_trainer.settings import load_settings
        from flead_trainer.store import TrainerStore

        s = load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    consumer, producer = make_clients(s, lambda _: None)
    timed = TimedConsumer(consumer)
    store = TrainerStore(s.mongodb_uri, s.mongodb_database)
    trainer = Trainer(s, timed, producer, store, AggregatorClient(s.aggregator_url, s.token, 0.5))  # type: ignore[arg-type]
    trainer.start()
    lat: list[float] = []
    seen, started = 0, time.perf_counter()
    while seen < rows and time.perf_counter() - started < deadline:
        seen += trainer.step()
        now = time.time()  # the batch is durable and committed now
        lat += [now - t for t in timed.stamps]
        timed.stamps.clear()
    trainer.checkpoint(wait=True)
    elapsed = time.perf_counter() - started
    consumer.close()
    store.close()
    return elapsed, lat


def throughput(rows: int = 60_000) -> dict[str, Any]:
    """Trainer readings/s vs bare consume+parse readings/s over the same records."""
    sc = Scratch()
    try:
        assert sc.produce(rows).wait(300) == 0, f"producer failed, see {sc.logs}"
        raw_s, _ = _raw_consume(sc, rows, sc.prefix + "-raw")
        ours_s, _ = _trainer(sc, rows)
    finally:
        sc.cleanup()
    ours, raw = rows / ours_s, rows / raw_s
    return {
        "benchmark": "trainer throughput",
        "flead": f"{ours:,.0f} readings/s",
        "baseline": "raw consume + json parse",
        "baseline_value": f"{raw:,.0f} readings/s",
        "ratio": ours / raw,
        "target": ">= 0.5",
    }


def latency(rate: float = 10_000, seconds: float = 10.0) -> list[dict[str, Any]]:
    """p50/p99 produce->durable result at a sustained rate, vs bare produce->consume."""
    rows = int(rate * seconds)
    sc = Scratch()
    out: dict[str, list[float]] = {}
    try:
        for name in ("raw", "flead"):
            sc.env["FLEAD_READINGS_TOPIC"] = f"{sc.prefix}.readings-{name}"
            from flead_producer.topics import ensure_topics

            ensure_topics(sc.bootstrap, {sc.env["FLEAD_READINGS_TOPIC"]: PARTITIONS})
            box: dict[str, list[float]] = {}

            def consume(n: str = name, into: dict[str, list[float]] = box) -> None:
                done = _raw_consume(sc, rows, sc.prefix + n) if n == "raw" else _trainer(sc, rows)
                into["lat"] = done[1]

            consumer = threading.Thread(target=consume)
            consumer.start()
            time.sleep(2.0)  # assigned before the first record
            producer = sc.produce(rows, rate)
            producer.wait(seconds * 5 + 60)
            consumer.join(300)
            out[name] = box.get("lat", [])
    finally:
        sc.cleanup()
    rows_out = []
    for q in (50, 99):
        ours, raw = (float(np.percentile(out[k], q)) * 1e3 for k in ("flead", "raw"))
        target = "<= 100 ms" if q == 99 else ""
        rows_out.append(
            {
                "benchmark": f"produce->result p{q} at {rate:,.0f}/s",
                "flead": f"{ours:.1f} ms",
                "baseline": "produce->consume (raw)",
                "baseline_value": f"{raw:.1f} ms",
                "ratio": ours / max(raw, 1e-9),
                "target": target,
            }
        )
    return rows_out


def ingest(updates: int = 300) -> list[dict[str, Any]]:
    """Updates/s accepted by one aggregator: binary bodies vs JSON lists."""
    from flead.data.records import CHANNELS
    from flead.wire import encode_arrays
    from flead_aggregator.initial import initial_weights

    sc = Scratch()
    port = _free_port()
    proc = sc.spawn(
        "flead_aggregator",
        "aggregator",
        FLEAD_AGGREGATOR_PORT=str(port),
        FLEAD_AGGREGATOR_MIN_UPDATES="100000",
        FLEAD_AGGREGATOR_ROUND_TIMEOUT_SECONDS="100000",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(
            base_url=url, timeout=10, headers={"Authorization": "Bearer bench"}
        ) as http:
            for _ in range(120):
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            w = [a + np.float32(0.001) for a in initial_weights(CHANNELS, 0)]
            rates = {}
            for fmt in ("binary", "json"):
                started = time.perf_counter()
                for i in range(updates):
                    uid = f"{fmt}-{i}"
                    if fmt == "binary":
                        body = encode_arrays(
                            w, {"device": str(i), "samples": 10, "base_version": 0}
                        )
                        r = http.post(
                            "/api/local-update",
                            content=body,
                            headers={
                                "Idempotency-Key": uid,
                                "Content-Type": "application/octet-stream",
                            },
                        )
                    else:
                        doc = {
                            "device": str(i),
                            "samples": 10,
                            "base_version": 0,
                            "weights": [a.tolist() for a in w],
                        }
                        r = http.post(
                            "/api/local-update", json=doc, headers={"Idempotency-Key": uid}
                        )
                    assert r.status_code == 202, r.text
                rates[fmt] = updates / (time.perf_counter() - started)
    finally:
        proc.terminate()
        proc.wait(30)
        sc.cleanup()
    params = sum(a.size for a in w)
    return [
        {
            "benchmark": f"aggregator ingest ({params} params, durable)",
            "flead": f"{rates['binary']:,.0f} updates/s",
            "baseline": "JSON lists (original format)",
            "baseline_value": f"{rates['json']:,.0f} updates/s",
            "ratio": rates["binary"] / rates["json"],
            "target": "",
        }
    ]


def run() -> list[dict[str, Any]]:
    """All service benchmarks (`make bench` calls this); latency also at a rate a small box keeps up with."""
    return [throughput(), *latency(2_000, 8.0), *latency(10_000, 8.0), *ingest()]


if __name__ == "__main__":
    for row in run():
        print(row)
