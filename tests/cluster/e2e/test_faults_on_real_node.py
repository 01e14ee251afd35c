"""The fault matrix on the bed's real node: FLEAD's pods under bed faults and node faults.

One release for the module (the ``release`` fixture, tests/cluster/e2e/conftest.py), the
producer streaming throughout. The faults come one after another, each while every trainer is
committing: FerretDB SIGKILLed for 15 s, the Kafka broker SIGKILLed for 10 s, one trainer
pod's processes SIGSTOPped for 30 s, containerd and then the kubelet SIGKILLed under the
running pods and restarted on the same state (testbed/fault.sh). After each, every offset
below each partition's committed offset has exactly one durable result and no container of
the release restarted; at the end the producer stops and every offset of the readings topic
has exactly one durable result. Kill points and waits are observable states (committed
offsets, metrics, Ready conditions); only the outage lengths are wall-clock.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.cluster.e2e.release import (
    TRAINER_SELECTOR,
    Release,
    all_pods_up,
    is_ready,
    kube_json,
    list_pods,
    metric,
    restart_counts,
    result_counts,
    stop_producer,
    trainer_deployments,
    trainer_metrics,
    wait_for_results,
    watermarks,
)
from tests.support.testbed import STATE, component_down, fault, run, wait_until

pytestmark = [getattr(pytest.mark, "cluster-e2e"), pytest.mark.timeout(900)]

CONTAINERD_SOCK = STATE / "node" / "containerd" / "containerd.sock"
FERRETDB_DOWN = 15.0  # seconds: the outage lengths, the only wall-clock in the module
KAFKA_DOWN = 10.0
TRAINER_STOPPED = 30.0  # below the trainer's liveness budget (3 failures 20 s apart)
RECOVERY = 180.0  # the longest any wait for recovery may take before the test fails

# What each fault's recovery took (printed at the end: `pytest -s` shows it).
MEASURED: dict[str, str] = {}


@dataclass(frozen=True)
class Trainers:
    """Each partition group's Kafka consumer group and partitions (from its Deployment)."""

    groups: dict[str, tuple[str, list[int]]]

    @property
    def partitions(self) -> list[int]:
        return sorted(p for _, parts in self.groups.values() for p in parts)


def _env(deployment: dict, name: str) -> str:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return str(next(e["value"] for e in container["env"] if e["name"] == name))


def _trainers(ns: str) -> Trainers:
    groups = {}
    for d in trainer_deployments(ns):
        group = _env(d, "FLEAD_PARTITION_GROUP")
        parts = [int(p) for p in _env(d, "FLEAD_PARTITIONS").split(",") if p]
        groups[group] = (_env(d, "FLEAD_CONSUMER_GROUP"), parts)
    return Trainers(groups)


def _committed(rel: Release, trainers: Trainers) -> dict[int, int] | None:
    """Each readings partition's committed offset (None while Kafka does not answer)."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    topic = rel.topics["readings"]
    out: dict[int, int] = {}
    for consumer_group, parts in trainers.groups.values():
        c = Consumer(
            {
                "bootstrap.servers": rel.bootstrap,
                "group.id": consumer_group,
                "enable.auto.commit": False,
                "socket.timeout.ms": 5000,
            }
        )
        try:
            tps = c.committed([TopicPartition(topic, p) for p in parts], timeout=5)
        except KafkaException:
            return None
        finally:
            c.close()
        out.update({tp.partition: max(tp.offset, 0) for tp in tps if tp.error is None})
    return out if len(out) == len(trainers.partitions) else None


def _advanced(
    rel: Release, trainers: Trainers, since: dict[int, int], parts: list[int] | None = None
) -> dict[int, int] | None:
    """The committed offsets once each of `parts` (default: all) moved beyond `since`."""
    now = _committed(rel, trainers)
    if now is None or any(now[p] <= since[p] for p in parts or trainers.partitions):
        return None
    return now


@dataclass
class Stream:
    """The release running: its trainers, every container's id and restart count."""

    release: Release
    trainers: Trainers
    containers: dict[str, list[str]]  # pod name -> its containers' ids
    restarts: dict[str, int]

    def committed(self) -> dict[int, int]:
        return wait_until(
            "the trainers' committed offsets", lambda: _committed(self.release, self.trainers)
        )

    def all_advance(self, what: str, since: dict[int, int], parts: list[int] | None = None) -> dict:
        return wait_until(
            f"{what}: every partition {parts or 'of the readings'} committed beyond {since}",
            lambda: _advanced(self.release, self.trainers, since, parts),
            timeout=RECOVERY,
        )

    def assert_exactly_once_below(self, committed: dict[int, int]) -> None:
        """Every offset below each partition's committed offset has exactly one durable
        result (results are durable before the offset is committed), none has two."""
        counts = result_counts(self.release)
        missing = [
            (p, o) for p, end in committed.items() for o in range(end) if (p, o) not in counts
        ]
        doubled = [k for k, v in counts.items() if v > 1]
        assert missing == [], (
            f"{len(missing)} committed readings without a result, e.g. {missing[:5]}"
        )
        assert doubled == [], f"{len(doubled)} readings counted twice, e.g. {doubled[:5]}"

    def assert_nothing_restarted(self) -> None:
        """The same pods with the same containers, none restarted, every pod Ready."""
        pods = wait_until(
            "every pod of the release Ready",
            lambda: (found := list_pods(self.release.namespace))
            and all(is_ready(p) for p in found)
            and found,
            timeout=RECOVERY,
            interval=1,
        )
        assert restart_counts(pods) == self.restarts, restart_counts(pods)
        assert _containers(pods) == self.containers


def _containers(pods: list[dict]) -> dict[str, list[str]]:
    return {
        p["metadata"]["name"]: sorted(
            c.get("containerID", "") for c in p["status"].get("containerStatuses", [])
        )
        for p in pods
    }


@pytest.fixture(scope="module")
def stream(release: Release) -> Iterator[Stream]:
    """Every pod Ready and every trainer committing: the state each fault starts from."""
    ns = release.namespace
    pods = wait_until("every pod of the release Ready", lambda: all_pods_up(ns), timeout=600)
    trainers = _trainers(ns)
    s = Stream(release, trainers, _containers(pods), restart_counts(pods))
    start = s.committed()
    s.all_advance("the trainers streaming", start)
    yield s
    print("\nrecovery measured on the real node:")
    for name, value in MEASURED.items():
        print(f"  {name}: {value}")


def _trainer_ips(ns: str) -> list[str]:
    pods = kube_json("get", "pods", "-n", ns, "-l", TRAINER_SELECTOR)["items"]
    return [p["status"]["podIP"] for p in pods if p["status"].get("podIP")]


def _some_trainer_reports(ns: str, series: str, value: float) -> bool:
    """At least one trainer's /metrics shows `series` at `value` (e.g. a dependency down)."""
    pages = [trainer_metrics(ip) for ip in _trainer_ips(ns)]
    return any(
        page is not None and series in page and metric(page, series) == value for page in pages
    )


def _outage(s: Stream, component: str, seconds: float, dependency: str) -> None:
    """`component` SIGKILLed while every trainer commits, restarted after `seconds`; the
    trainers notice (flead_dependency_up 0), then every partition commits again."""
    ns = s.release.namespace
    before = s.committed()
    s.all_advance(f"the trainers committing before the {component} kill", before)
    series = f'flead_dependency_up{{dependency="{dependency}"}}'
    with component_down(component, seconds):
        wait_until(
            f"a trainer reporting {dependency} down",
            lambda: _some_trainer_reports(ns, series, 0.0),
            timeout=seconds + 30,
        )
    restarted = time.monotonic()
    at_restart = wait_until(
        "the committed offsets after the restart",
        lambda: _committed(s.release, s.trainers),
        timeout=RECOVERY,
    )
    after = s.all_advance(f"the trainers committing after the {component} restart", at_restart)
    MEASURED[f"{component} SIGKILL {seconds:.0f} s"] = (
        f"every partition committed again {time.monotonic() - restarted:.1f} s after the restart"
    )
    wait_until(
        f"every trainer reporting {dependency} up",
        lambda: not _some_trainer_reports(ns, series, 0.0),
        timeout=RECOVERY,
    )
    s.assert_nothing_restarted()
    s.assert_exactly_once_below(after)


def test_ferretdb_killed_15s_under_the_pods(stream: Stream) -> None:
    """Proves FerretDB SIGKILLed for 15 s under the running pods loses and doubles nothing:
    the trainers report it (flead_dependency_up{dependency="mongodb"} 0), hold their offsets
    (back-pressure), and after the restart on the same data every partition commits again;
    no container restarted, every committed offset has exactly one durable result."""
    _outage(stream, "ferretdb", FERRETDB_DOWN, "mongodb")


def test_kafka_broker_killed_under_the_pods(stream: Stream) -> None:
    """Proves the Kafka broker SIGKILLed for 10 s under the running pods (trainers, producer)
    loses and doubles nothing: the trainers report it (flead_dependency_up{dependency="kafka"}
    0), librdkafka reconnects after the restart on the same data and every partition commits
    again; no container restarted, every committed offset has exactly one durable result."""
    _outage(stream, "kafka", KAFKA_DOWN, "kafka")


def _container_pids(container_id: str) -> list[int]:
    """The host pids of a container's processes (containerd's view of its task)."""
    ctr = ["ctr", "--address", str(CONTAINERD_SOCK), "--namespace", "k8s.io"]
    out = run([*ctr, "tasks", "ps", container_id.removeprefix("containerd://")]).stdout
    pids = [int(line.split()[0]) for line in out.splitlines()[1:] if line.strip()]
    assert pids, out
    return pids


def test_a_trainer_pod_stopped_30s_catches_up(stream: Stream) -> None:
    """Proves a trainer pod whose processes are SIGSTOPped for 30 s (found on the host through
    containerd) holds its partitions' offsets while their lag grows, the other trainers keep
    committing meanwhile, and after SIGCONT it catches up by itself, without a restart (the
    stop stays within its liveness budget) and without losing or doubling a reading."""
    ns = stream.release.namespace
    pods = kube_json("get", "pods", "-n", ns, "-l", TRAINER_SELECTOR)["items"]
    victim = pods[0]
    group = victim["metadata"]["labels"]["flead.io/partition-group"]
    mine = stream.trainers.groups[group][1]
    others = [p for p in stream.trainers.partitions if p not in mine]
    assert others, stream.trainers
    pids = _container_pids(victim["status"]["containerStatuses"][0]["containerID"])
    before = stream.committed()
    stream.all_advance("every trainer committing before the stop", before)
    stopped_at = time.monotonic()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        at_stop = stream.committed()
        stream.all_advance(f"the trainers other than {group} committing", at_stop, others)
        # Read once the others moved on: a commit the stopped trainer's kernel still had
        # queued at the SIGSTOP has landed by now.
        frozen = stream.committed()
        # Only the outage length is wall-clock: the rest of the 30 s.
        time.sleep(max(0.0, TRAINER_STOPPED - (time.monotonic() - stopped_at)))
        held = stream.committed()
        ends = watermarks(stream.release.bootstrap, stream.release.topics["readings"])
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    resumed = time.monotonic()
    lag = {p: ends[p] - held[p] for p in mine}
    assert all(held[p] == frozen[p] for p in mine), (frozen, held)
    assert all(v > 0 for v in lag.values()), lag
    caught_up = wait_until(
        f"group {group} caught up with the end offsets at SIGCONT {ends}",
        lambda: (c := _committed(stream.release, stream.trainers)) is not None
        and all(c[p] >= ends[p] for p in mine)
        and c,
        timeout=RECOVERY,
    )
    MEASURED["trainer pod SIGSTOP 30 s"] = (
        f"lag {sum(lag.values())} readings at SIGCONT, caught up "
        f"{time.monotonic() - resumed:.1f} s after it"
    )
    stream.assert_nothing_restarted()
    stream.assert_exactly_once_below(caught_up)


def _node_fault(s: Stream, component: str) -> None:
    """`component` of the real node SIGKILLed under the running pods: the trainers keep
    committing without it; restarted on the same state (fault.sh waits until the kubelet
    shows it healthy), the same containers run on, none restarted."""
    before = s.committed()
    s.all_advance(f"the trainers committing before the {component} kill", before)
    t0 = time.monotonic()
    fault("kill", component)
    try:
        at_kill = s.committed()
        s.all_advance(f"the trainers committing with {component} down", at_kill)
    finally:
        fault("restart", component)
    restarted = time.monotonic()
    at_restart = s.committed()
    after = s.all_advance(f"the trainers committing after the {component} restart", at_restart)
    s.assert_nothing_restarted()
    MEASURED[f"{component} SIGKILL + restart"] = (
        f"down {restarted - t0:.1f} s (kill to healthy again), pods Ready and every partition "
        f"committing {time.monotonic() - restarted:.1f} s after"
    )
    s.assert_exactly_once_below(after)


def test_containerd_restarted_while_trainers_run(stream: Stream) -> None:
    """Proves containerd SIGKILLed under the running trainers and restarted on the same state
    loses and doubles nothing: the containers run on in their shims (every partition commits
    while containerd is down), the restarted containerd and the kubelet adopt them (the same
    container ids, no restart), every pod is Ready again."""
    _node_fault(stream, "containerd")


def test_kubelet_restarted_while_trainers_run(stream: Stream) -> None:
    """Proves the kubelet SIGKILLed under the running trainers and restarted on the same root
    dir loses and doubles nothing: the pods run on without it (every partition commits while
    it is down), the new kubelet adopts the running containers (the same ids, no restart) and
    every pod is Ready again."""
    _node_fault(stream, "kubelet")


def test_every_reading_has_exactly_one_result_after_all_faults(stream: Stream) -> None:
    """Proves that after all the faults above, once the producer stops, every offset of every
    readings partition has exactly one durable result, and no container of the release was
    restarted or replaced."""
    ns = stream.release.namespace
    stop_producer(ns)
    ends = watermarks(stream.release.bootstrap, stream.release.topics["readings"])
    expected = {(p, o) for p, end in ends.items() for o in range(end)}
    t0 = time.monotonic()
    counts = wait_for_results(stream.release, expected)
    MEASURED["drain after the producer stopped"] = f"{time.monotonic() - t0:.1f} s"
    assert set(counts) == expected
    doubled = [k for k, v in counts.items() if v > 1]
    assert doubled == [], f"{len(doubled)} readings counted twice, e.g. {doubled[:5]}"
    pods = [p for p in list_pods(ns) if "producer" not in p["metadata"]["name"]]
    assert restart_counts(pods) == {k: v for k, v in stream.restarts.items() if "producer" not in k}
