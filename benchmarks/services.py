"""Service benchmarks on the bed: trainer throughput, two honest latencies, aggregator ingest over HTTP.

Each figure is printed beside a baseline from the same run on the same broker / server:
  1. trainer throughput (decode, score+learn, publish, results + checkpoint in FerretDB, commit)
     vs a bare confluent-kafka consumer that only consumes and `json.loads` the same records,
     measured before and after the trainer (target >= 0.6 of their mean);
  2. at 2k and 10k readings/s, p50/p99 of produce -> anomaly record in the anomalies topic
     (`flead.anomalies`, consumed back), produce -> anomaly record visible in MongoDB
     (`anomalies`, the acknowledged insert) and of produce -> offset committed after the durable
     checkpoint, beside the bare consumer's produce -> consume at the same rate;
  3. aggregator ingest through uvicorn + auth + validation + the durable MongoDB store, 8
     concurrent clients: per-device updates/s vs a stand-in of the original in-memory server
     (`benchmarks.original_server`) on the same clients, and device updates/s through the
     two-tier path (trainers' partial aggregates built by `Participant.updates`).
The trainer runs in this process, configured by a `TrainerSettings` object (no environment edits).
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from benchmarks.figure import Figure, target_met
from benchmarks.render import show

REPO = Path(__file__).resolve().parents[1]
PARTITIONS = 4
TOKEN = "bench"
CLIENTS = 8
TARGET_THROUGHPUT_RATIO = 0.6  # of raw consume + json.loads in the same run
TARGET_ANOMALY_P99_MS = 100.0
TARGET_COMMITTED_P99_MS = 1500.0
TARGET_INGEST_PER_S = 904.0  # the original server, in memory, measured on this machine
TARGET_TWO_TIER_PER_S = 9040.0  # 10x that, through trainers' partial aggregates


def _bed_env() -> dict[str, str]:
    env_file = REPO / ".testbed/env"
    if not env_file.is_file():
        raise RuntimeError("test bed is not up (.testbed/env missing): run `make testbed`")
    out = subprocess.run(
        ["bash", "-c", f'set -a; . "{env_file}"; env -0'], capture_output=True, check=True
    ).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


class Scratch:
    """Topics and a database of one benchmark run, removed afterwards. Child processes (the
    producer, the aggregators) get their settings as FLEAD_* variables of their own environment;
    the in-process trainer gets a settings object."""

    def __init__(self) -> None:
        bed = _bed_env()
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"
        self.bootstrap = bed["KAFKA_BOOTSTRAP_SERVERS"]
        self.mongodb_uri = bed["MONGODB_URI"]
        self.database = self.prefix.replace("-", "_")
        self.topics: list[str] = []
        self.logs = Path(tempfile.mkdtemp(prefix="flead-bench-"))
        self.env = {
            **_base_env(),
            "FLEAD_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "FLEAD_MONGODB_URI": self.mongodb_uri,
            "FLEAD_MONGODB_DATABASE": self.database,
            "FLEAD_READINGS_PARTITIONS": str(PARTITIONS),
            "FLEAD_LOG_LEVEL": "WARNING",
            "FLEAD_PRODUCER_LABELS": "none",
            "FLEAD_PRODUCER_PROGRESS": "false",
            "PROMETHEUS_TARGETS_DIR": "",
        }

    def readings(self, name: str) -> str:
        """A fresh readings topic (4 partitions) for one measurement."""
        from flead_producer.topics import ensure_topics

        topic = f"{self.prefix}.{name}"
        ensure_topics(self.bootstrap, {topic: PARTITIONS})
        self.topics.append(topic)
        return topic

    def trainer_settings(self, topic: str, group: str) -> Any:
        """The trainer's settings object for a topic (no aggregator: updates back off)."""
        from pydantic import SecretStr

        from flead_trainer.settings import TrainerSettings

        return TrainerSettings(
            kafka_bootstrap_servers=self.bootstrap,
            mongodb_uri=self.mongodb_uri,
            mongodb_database=self.database,
            readings_topic=topic,
            readings_partitions=PARTITIONS,
            anomalies_topic=f"{self.prefix}.anomalies",
            dead_letter_topic=f"{self.prefix}.dead-letter",
            partitions=",".join(str(p) for p in range(PARTITIONS)),
            consumer_group=group,
            aggregator_url="http://127.0.0.1:9",
            aggregator_token=SecretStr(TOKEN),
            log_level="WARNING",
        )

    def spawn(self, args: Sequence[str], name: str, **extra: str) -> subprocess.Popen[bytes]:
        """A child process with this run's environment plus `extra`."""
        log = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, *args], env={**self.env, **extra}, stdout=log, stderr=log, cwd=REPO
        )

    def produce(self, topic: str, rows: int, rate: float = 0.0) -> subprocess.Popen[bytes]:
        """Synthetic readings (54 devices) into `topic`."""
        return self.spawn(
            ["-m", "flead_producer"],
            f"producer-{rate:g}",
            FLEAD_READINGS_TOPIC=topic,
            FLEAD_PRODUCER_MAX_READINGS=str(rows),
            FLEAD_PRODUCER_RATE=str(rate),
            FLEAD_PRODUCER_SYNTH_DAYS="2",
            FLEAD_METRICS_PORT=str(_free_port()),
        )

    def feed(self, topic: str, skip: int, rows: int, rate: float = 0.0) -> subprocess.Popen[bytes]:
        """Rows [skip, skip + rows) of 2 synthetic days (54 devices) into `topic`, through the
        producer's Runner (`benchmarks.feed`)."""
        return self.spawn(
            ["-m", "benchmarks.feed", "--skip", str(skip), "--rows", str(rows)],
            f"feed-{rate:g}",
            FLEAD_READINGS_TOPIC=topic,
            FLEAD_PRODUCER_RATE=str(rate),
            FLEAD_PRODUCER_SYNTH_DAYS="2",
            FLEAD_PRODUCER_CREATE_TOPICS="false",
        )

    def cleanup(self) -> None:
        """Drop the database and delete the topics."""
        from confluent_kafka.admin import AdminClient
        from pymongo import MongoClient

        client: MongoClient[dict[str, Any]]
        with MongoClient(self.mongodb_uri) as client:
            client.drop_database(self.database)
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(self.prefix)]
        for future in admin.delete_topics(topics).values() if topics else []:
            future.result(30)


def _bed_pids() -> tuple[str, ...]:
    """The bed's Kafka and FerretDB process ids, and any fault marker: a change over a
    measurement means another user of the shared bed killed or stopped one of them meanwhile."""
    bed = REPO / ".testbed"
    pids = tuple(
        (bed / "pids" / f"{name}.pid").read_text().strip()
        if (bed / "pids" / f"{name}.pid").is_file()
        else ""
        for name in ("kafka", "ferretdb")
    )
    faults = (
        tuple(sorted(p.name for p in (bed / "faults").glob("*")))
        if (bed / "faults").is_dir()
        else ()
    )
    return (*pids, *faults)


def undisturbed(measure: Callable[[], list[Figure]], tries: int = 3) -> list[Figure]:
    """`measure()`, again (up to `tries` runs) while the bed's Kafka or FerretDB was restarted or
    a fault was active during it; a failure of a disturbed run is retried, of a quiet one raised."""
    figures: list[Figure] = []
    for attempt in range(1, tries + 1):
        before = _bed_pids()
        try:
            figures = measure()
        except Exception:
            if _bed_pids() == before and len(before) == 2:
                raise
            figures = []
        after = _bed_pids()
        if figures and after == before and len(after) == 2:
            note = "" if attempt == 1 else f" [run {attempt}: the bed restarted in the earlier]"
            return [replace(f, benchmark=f.benchmark + note) for f in figures]
        time.sleep(10.0)  # let the restarted component settle
    return [replace(f, benchmark=f.benchmark + " [bed disturbed in every run]") for f in figures]


def _base_env() -> dict[str, str]:
    """This process's environment without FLEAD_* (a child gets only this run's settings)."""
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("FLEAD_")}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


# --- trainer -------------------------------------------------------------------------------


def _raw_consume(
    bootstrap: str,
    topic: str,
    rows: int,
    deadline: float = 300.0,
    stop: threading.Event | None = None,
) -> tuple[float, list[float]]:
    """Bare consumer: consume + json.loads `rows` records; (seconds, produce->consume latencies)."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"raw-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 50,
        }
    )  # consumes as the trainer does: up to 2,000 records, waiting at most 20 ms for them
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    seen, lat, started = 0, [], time.perf_counter()
    while seen < rows and time.perf_counter() - started < deadline:
        if stop is not None and stop.is_set():
            break
        msgs = c.consume(2000, 0.02)
        now = time.time()
        for m in msgs:
            json.loads(m.value())
            lat.append(now - m.timestamp()[1] / 1e3)
        seen += len(msgs)
    elapsed = time.perf_counter() - started
    c.close()
    return elapsed, lat


@dataclass
class Probe:
    """What the trainer consumed, when each offset was committed (after the checkpoint that made
    it durable), and when each anomaly's MongoDB insert was acknowledged (from then on any
    reader sees it). Consuming only keeps the message objects (`record=False`: only counts), so
    the probe adds no per-record Python to the trainer's loop; commits sort them out."""

    record: bool = True
    pending: list[Any] = field(default_factory=list)  # consumed, not yet committed
    committed: list[float] = field(default_factory=list)  # produce -> commit, per record
    produced: dict[tuple[str, float], float] = field(default_factory=dict)  # reading -> stamp
    visible: list[tuple[str, float, float]] = field(default_factory=list)  # device, time, at
    n_consumed: int = 0
    n_committed: int = 0

    def consumed_msgs(self, msgs: list[Any]) -> None:
        """Keep the batch (or count it)."""
        self.n_consumed += len(msgs)
        if self.record:
            self.pending += msgs

    def commit_done(self, offsets: Sequence[TopicPartition]) -> None:
        """Every kept record below its partition's committed offset is committed now."""
        now = time.time()
        upto = {tp.partition: tp.offset for tp in offsets}
        later = []
        for m in self.pending:
            if m.error() is not None:
                continue
            if m.offset() < upto.get(m.partition(), -1):
                stamp = m.timestamp()[1] / 1e3
                self.committed.append(now - stamp)
                doc = json.loads(m.value())
                self.produced[(str(doc["device"]), float(doc["time"]))] = stamp
                self.n_committed += 1
            else:
                later.append(m)
        self.pending = later

    def anomaly_latencies(self) -> list[float]:
        """produce -> anomaly visible in MongoDB, per anomaly."""
        got = self.produced
        return [at - got[(d, t)] for d, t, at in self.visible if (d, t) in got]


class _ProbedConsumer:
    """The trainer's consumer, reporting consumes and synchronous commits to a Probe."""

    def __init__(self, inner: Consumer, probe: Probe) -> None:
        self.inner, self.probe = inner, probe

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        """Consume and remember."""
        msgs = self.inner.consume(num_messages, timeout)
        self.probe.consumed_msgs(msgs)
        return msgs

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        """Commit, then tell the probe which offsets are committed."""
        out = self.inner.commit(*args, **kwargs)
        self.probe.commit_done(kwargs.get("offsets") or [])
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _probed_store(s: Any, probe: Probe) -> Any:
    """The trainer's MongoDB store, telling the probe when each anomaly insert was acknowledged."""
    from flead_trainer.store import TrainerStore

    class ProbedStore(TrainerStore):
        def write_anomalies(self, docs: Sequence[dict[str, Any]]) -> None:
            super().write_anomalies(docs)
            now = time.time()
            probe.visible += [(str(d["device"]), float(d["time"]), now) for d in docs]

    return ProbedStore(s.mongodb_uri, s.mongodb_database)


def _run_trainer(
    s: Any, probe: Probe, until: Callable[[Probe], bool], deadline: float = 300.0
) -> float:
    """FLEAD's trainer loop in this process over `s.readings_topic` until `until(probe)`;
    seconds from the first step (after start: restore, assign, join)."""
    from flead_trainer.client import AggregatorClient
    from flead_trainer.kafka_io import make_clients
    from flead_trainer.loop import Trainer

    consumer, producer = make_clients(s, lambda _: None)
    store = _probed_store(s, probe)
    client = AggregatorClient(s.aggregator_url, s.token, 0.5)
    trainer = Trainer(s, _ProbedConsumer(consumer, probe), producer, store, client)
    trainer.start()
    started = time.perf_counter()
    try:
        while not until(probe) and time.perf_counter() - started < deadline:
            trainer.step()
        trainer.checkpoint(wait=True)
        elapsed = time.perf_counter() - started
    finally:
        producer.flush(10)
        consumer.close()
        client.close()
        store.close()
    return elapsed


def throughput(rows: int = 60_000) -> list[Figure]:
    """Trainer readings/s vs bare consume + json.loads readings/s over the same records, and
    CPU per reading (ratio = baseline CPU / ours); higher ratios are better in both."""
    sc = Scratch()
    try:
        topic = sc.readings("throughput")
        assert sc.produce(topic, rows).wait(300) == 0, f"producer failed, see {sc.logs}"
        cpu = time.process_time()
        before, _ = _raw_consume(sc.bootstrap, topic, rows)
        raw_cpu = time.process_time() - cpu
        s = sc.trainer_settings(topic, sc.prefix + "-throughput")
        cpu = time.process_time()
        ours_s = _run_trainer(s, Probe(record=False), lambda p: p.n_consumed >= rows)
        ours_cpu = time.process_time() - cpu
        cpu = time.process_time()
        after, _ = _raw_consume(sc.bootstrap, topic, rows)
        raw_cpu = (raw_cpu + time.process_time() - cpu) / 2
    finally:
        sc.cleanup()
    ours, raw = rows / ours_s, rows / ((before + after) / 2)
    ours_us, raw_us = ours_cpu / rows * 1e6, raw_cpu / rows * 1e6
    return [
        Figure(
            benchmark=f"trainer throughput (4 partitions, 54 devices, backlog of {rows:,})",
            value=ours,
            unit="readings/s",
            baseline=f"raw consume + json.loads, mean of before {rows / before:,.0f} / "
            f"after {rows / after:,.0f}",
            baseline_value=raw,
            ratio=ours / raw,
            target=f"ratio ≥ {TARGET_THROUGHPUT_RATIO:g}",
            met=target_met(ours / raw, at_least=TARGET_THROUGHPUT_RATIO),
        ),
        Figure(
            benchmark="trainer CPU per reading, this process (all threads; not FerretDB's; "
            "robust to a busy machine)",
            value=ours_us,
            unit="µs/reading",
            baseline="raw consume + json.loads, CPU per reading",
            baseline_value=raw_us,
            ratio=raw_us / ours_us,
        ),
    ]


class AnomalyTap:
    """Consumes the trainer's anomalies topic in a thread: when each anomaly record arrived."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.seen: list[tuple[str, float, float]] = []  # device, time, arrived
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"tap-{uuid.uuid4().hex[:6]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 50,
            }
        )  # fetches as the bare consumer of the baseline does
        partitions = self._consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msgs = self._consumer.consume(2000, 0.02)
            now = time.time()
            for m in msgs:
                if m.error() is None:
                    doc = json.loads(m.value())
                    self.seen.append((str(doc["device"]), float(doc["time"]), now))

    def close(self) -> None:
        """Stop consuming."""
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def latency(rate: float, seconds: float = 8.0, warm: int = 40_000) -> list[Figure]:
    """p50/p99 of produce -> anomaly record in the anomalies topic, produce -> anomaly visible
    in MongoDB and produce -> offset committed after the durable checkpoint, at a sustained
    `rate`, beside bare produce -> consume at that rate.

    The trainer first learns from `warm` rows (a backlog; not measured), so its models flag
    anomalies, then the next rows of the same stream arrive paced at `rate`."""
    rows = int(rate * seconds)
    sc = Scratch()
    raw: list[float] = []
    probe = Probe()
    tap: AnomalyTap | None = None
    published: list[float] = []
    stop = threading.Event()  # a failed feed ends the consumers at once (the run is repeated)

    def fed(feed: subprocess.Popen[bytes], worker: threading.Thread) -> None:
        if feed.wait(seconds * 5 + 60) != 0:
            stop.set()
            worker.join(60)
            raise RuntimeError(f"producer failed, see {sc.logs}")
        worker.join(300)

    try:
        topic = sc.readings("latency-raw")
        worker = threading.Thread(
            target=lambda: raw.extend(_raw_consume(sc.bootstrap, topic, rows, stop=stop)[1]),
            daemon=True,
        )
        worker.start()
        time.sleep(2.0)  # assigned before the first record
        fed(sc.feed(topic, warm, rows, rate), worker)

        topic = sc.readings("latency-flead")
        assert sc.feed(topic, 0, warm).wait(300) == 0, f"producer failed, see {sc.logs}"
        s = sc.trainer_settings(topic, f"{sc.prefix}-latency")
        from flead_producer.topics import ensure_topics

        ensure_topics(sc.bootstrap, {s.anomalies_topic: 1})
        tap = AnomalyTap(sc.bootstrap, s.anomalies_topic)
        worker = threading.Thread(
            target=_run_trainer,
            args=(s, probe, lambda p: p.n_committed >= warm + rows or stop.is_set()),
            daemon=True,
        )
        worker.start()
        waited = time.perf_counter()
        while probe.n_committed < warm and time.perf_counter() - waited < 300:
            time.sleep(0.2)
        probe.committed.clear()  # the backlog is not what is measured
        probe.visible.clear()
        backlog = set(probe.produced)
        fed(sc.feed(topic, warm, rows, rate), worker)
        tap.close()
        published = [
            at - probe.produced[(d, t)]
            for d, t, at in tap.seen
            if (d, t) in probe.produced and (d, t) not in backlog
        ]
    finally:
        stop.set()
        if tap is not None:
            tap.close()
        sc.cleanup()
    return latency_figures(rate, published, probe.anomaly_latencies(), probe.committed, raw)


def latency_figures(
    rate: float,
    published: Sequence[float],
    anomalies: Sequence[float],
    committed: Sequence[float],
    raw: Sequence[float],
) -> list[Figure]:
    """The three latency figures at `rate` from their samples (seconds): value is the p99 in
    ms, beside raw produce -> consume's p99 (ratio = ours / raw: lower is better)."""
    r50, r99 = _pct(raw, 50) * 1e3, _pct(raw, 99) * 1e3
    figures = []
    for figure, values, bound_ms in (
        ("produce -> anomaly record in the anomalies topic", published, TARGET_ANOMALY_P99_MS),
        ("produce -> anomaly in MongoDB", anomalies, TARGET_ANOMALY_P99_MS),
        ("produce -> offset committed (durable)", committed, TARGET_COMMITTED_P99_MS),
    ):
        p50, p99 = _pct(values, 50) * 1e3, _pct(values, 99) * 1e3
        figures.append(
            Figure(
                benchmark=f"{figure} p99 at {rate:,.0f}/s ({len(values):,} samples)",
                value=p99,
                unit="ms",
                baseline=f"raw produce -> consume p99 (p50 {r50:,.0f} ms)",
                baseline_value=r99,
                ratio=p99 / max(r99, 1e-9),
                target=f"p99 ≤ {bound_ms:,.0f} ms",
                met=target_met(p99, at_most=bound_ms),
                detail=f"p50 {p50:,.0f} / p99 {p99:,.0f} ms",
            )
        )
    return figures


# --- aggregator ingest ---------------------------------------------------------------------


def _wait_ready(port: int, path: str, proc: subprocess.Popen[bytes], logs: Path) -> None:
    for _ in range(240):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}, see {logs}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"server on :{port} not ready, see {logs}")


def _hammer(
    port: int, bodies: Sequence[Sequence[tuple[bytes, dict[str, str]]]], expect: set[int]
) -> float:
    """One keep-alive connection per client, each POSTing its bodies in order; requests/s."""
    failures: list[str] = []

    def client(mine: Sequence[tuple[bytes, dict[str, str]]], gate: threading.Barrier) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        gate.wait()
        for body, headers in mine:
            conn.request("POST", "/api/local-update", body, headers)
            r = conn.getresponse()
            text = r.read()
            if r.status not in expect:
                failures.append(f"{r.status} {text[:200]!r}")
        conn.close()

    elapsed = _together(client, [(b,) for b in bodies])
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, first: {failures[0]}")
    return sum(map(len, bodies)) / elapsed


def _write_batches(port: int) -> tuple[float, float]:
    """(store writes, updates they carried) so far, from the aggregator's /metrics."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("flead_update_write_batch_")
    }
    return values["flead_update_write_batch_count"], values["flead_update_write_batch_sum"]


def _partials(devices: int, base: Any) -> list[Any]:
    """One partial aggregate per client (trainer) over `devices` devices of a real DeviceBank."""
    from flead.federation import Participant
    from flead.model import DeviceBank

    rng = np.random.default_rng(devices)
    out = []
    for t in range(CLIENTS):
        bank = DeviceBank(base.spec.features, capacity=devices)
        ids = [f"t{t}-d{i}" for i in range(devices)]
        for d in ids:
            bank.add(d)
        st = bank.state
        for i in range(st.n_shared):
            st.weights[i][:devices] = base.tensors[i] + rng.normal(
                0, 0.01, st.weights[i][:devices].shape
            )
        st.arrays["samples"][:devices] = rng.integers(1, 500, devices)
        (update, _, _), *_ = Participant(f"trainer-{t}", bank, _NoTransport()).updates(ids)
        out.append(update)
    return out


def _insert_ceiling(sc: Scratch, blob: bytes, per_client: int) -> float:
    """inserts/s of 8 threads each inserting small documents with a weights blob into FerretDB
    over the MongoDB wire: what bounds a durable write per request."""
    from bson.binary import Binary
    from pymongo import MongoClient
    from pymongo.collection import Collection

    client: MongoClient[dict[str, Any]]
    with MongoClient(sc.mongodb_uri) as client:
        coll: Collection[dict[str, Any]] = client[sc.database]["insert_ceiling"]
        coll.insert_one({"_id": "warm"})

        def writer(c: int, gate: threading.Barrier) -> None:
            gate.wait()
            for i in range(per_client):
                coll.insert_one({"_id": f"{c}-{i}", "blob": Binary(blob), "status": "pending"})

        return CLIENTS * per_client / _together(writer, [(c,) for c in range(CLIENTS)])


def _together(target: Callable[..., None], args: Sequence[tuple[Any, ...]]) -> float:
    """Seconds for one thread per `args` entry to run `target(*entry, gate)`, all released at
    once by the gate (each waits on it after its own set-up)."""
    gate = threading.Barrier(len(args) + 1)
    threads = [threading.Thread(target=target, args=(*a, gate)) for a in args]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - started


class _NoTransport:
    def send(self, update: Any) -> Any:
        raise NotImplementedError

    def send_many(self, updates: Any) -> Any:
        raise NotImplementedError

    def fetch(self, have: int | None) -> Any:
        return None


def ingest(per_client: int = 150, devices_per_trainer: int = 125) -> list[Figure]:
    """Requests/s of 8 concurrent clients: FLEAD's aggregator (uvicorn, bearer token, validation,
    durable MongoDB store, production model) vs the original server's in-memory stand-in; and
    device updates/s through the two-tier path (each request a trainer's partial aggregate)."""
    from flead.data.records import CHANNELS
    from flead.federation import ModelVersion
    from flead.model import DeviceBank

    v0 = ModelVersion.initial(DeviceBank(CHANNELS).spec)
    sc = Scratch()
    ours, theirs = _free_port(), _free_port()
    server = sc.spawn(
        ["-m", "flead_aggregator"],
        "aggregator",
        FLEAD_AGGREGATOR_PORT=str(ours),
        FLEAD_AGGREGATOR_TOKEN=TOKEN,
        FLEAD_AGGREGATOR_MIN_UPDATES="1000000",
        FLEAD_AGGREGATOR_ROUND_TIMEOUT_SECONDS="100000",
    )
    original = sc.spawn(
        ["-m", "uvicorn", "benchmarks.original_server:app", "--port", str(theirs),
         "--log-level", "warning", "--no-access-log"],
        "original",
    )  # fmt: skip
    try:
        _wait_ready(ours, "/readyz", server, sc.logs)
        _wait_ready(theirs, "/api/status", original, sc.logs)
        w = [t + np.float32(0.001) for t in v0.tensors]
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/octet-stream"}
        from flead.wire import encode_arrays

        def device_body(c: int, i: int) -> tuple[bytes, dict[str, str]]:
            meta = {"device": f"c{c}-{i % 54}", "samples": 10, "base_version": 0}
            return encode_arrays(w, meta), {**auth, "Idempotency-Key": f"dev-{c}-{i}"}

        def json_body(c: int, i: int) -> tuple[bytes, dict[str, str]]:
            doc = {"device_id": f"c{c}-{i % 54}", "num_samples": 10,
                   "weights": [a.tolist() for a in w]}  # fmt: skip
            return json.dumps(doc).encode(), {"Content-Type": "application/json"}

        partials = _partials(devices_per_trainer, v0)

        def partial_body(c: int, i: int) -> tuple[bytes, dict[str, str]]:
            u = replace(partials[c], update_id=f"partial-{c}-{i}")
            return u.to_blob(), {**auth, "Idempotency-Key": u.update_id}

        def bodies(
            make: Callable[[int, int], tuple[bytes, dict[str, str]]],
        ) -> list[list[tuple[bytes, dict[str, str]]]]:
            return [[make(c, i) for i in range(per_client)] for c in range(CLIENTS)]

        _hammer(theirs, bodies(json_body), {200})  # warm-up (both servers' first requests)
        warm = [[(b, {**h, "Idempotency-Key": f"warm-{h['Idempotency-Key']}"}) for b, h in c[:10]]
                for c in bodies(device_body)]  # fmt: skip
        _hammer(ours, warm, {202})
        baseline = _hammer(theirs, bodies(json_body), {200})
        writes_before = _write_batches(ours)
        per_device = _hammer(ours, bodies(device_body), {202})
        writes_after = _write_batches(ours)
        per_device_batch = (writes_after[1] - writes_before[1]) / max(
            writes_after[0] - writes_before[0], 1.0
        )
        partial = _hammer(ours, bodies(partial_body), {202})
        baseline_after = _hammer(theirs, bodies(json_body), {200})
        ceiling = _insert_ceiling(sc, device_body(0, 0)[0], per_client)
    finally:
        for proc in (server, original):
            proc.terminate()
            proc.wait(30)
        sc.cleanup()
    base = (baseline + baseline_after) / 2
    params = sum(int(t.size) for t in v0.tensors)
    device_updates = partial * devices_per_trainer
    inserts = per_device / per_device_batch
    stand_in = "original server stand-in (in memory, no auth, JSON lists), same clients"
    return [
        Figure(
            benchmark=f"aggregator ingest, {CLIENTS} clients, one device per request "
            f"({params} params; uvicorn, auth, validation, durable)",
            value=per_device,
            unit="requests/s",
            baseline=f"{stand_in}, mean of before {baseline:,.0f} / after {baseline_after:,.0f}",
            baseline_value=base,
            ratio=per_device / base,
            target=f"≥ {TARGET_INGEST_PER_S:,.0f} requests/s",
            met=target_met(per_device, at_least=TARGET_INGEST_PER_S),
        ),
        Figure(
            benchmark=f"aggregator ingest, two tiers: partial aggregates of "
            f"{devices_per_trainer} devices, {CLIENTS} trainers",
            value=device_updates,
            unit="device updates/s",
            baseline=f"{stand_in}, one device per request",
            baseline_value=base,
            ratio=device_updates / base,
            target=f"≥ {TARGET_TWO_TIER_PER_S:,.0f} device updates/s",
            met=target_met(device_updates, at_least=TARGET_TWO_TIER_PER_S),
            detail=f"{device_updates:,.0f} device updates/s ({partial:,.0f} requests/s)",
        ),
        Figure(
            benchmark=f"what bounds it: FerretDB insert_one, {CLIENTS} threads, same blob "
            f"(group commit: {per_device_batch:.1f} updates per insert_many)",
            value=inserts,
            unit="inserts/s",
            baseline="bare insert_one ceiling",
            baseline_value=ceiling,
            ratio=inserts / ceiling,
            detail=f"{per_device:,.0f} requests/s = {inserts:,.0f} inserts/s",
        ),
    ]


def run() -> list[Figure]:
    """All service benchmarks (`make bench` calls this)."""
    return [
        *undisturbed(throughput),
        *undisturbed(lambda: latency(2_000)),
        *undisturbed(lambda: latency(10_000)),
        *undisturbed(ingest),
    ]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.services", description=__doc__)
    parser.add_argument(
        "parts", nargs="*", default=["throughput", "latency", "ingest"],
        help="throughput, latency, ingest (default: all)",
    )  # fmt: skip
    args = parser.parse_args()
    figures: list[Figure] = []
    if "throughput" in args.parts:
        figures += undisturbed(throughput)
    if "latency" in args.parts:
        figures += [*undisturbed(lambda: latency(2_000)), *undisturbed(lambda: latency(10_000))]
    if "ingest" in args.parts:
        figures += undisturbed(ingest)
    show("services", figures)
