"""The operator on the bed's API server: 54 motes -> trainers on KWOK nodes, shrink, grow, restart.

The operator runs as a subprocess under a ServiceAccount kubeconfig bound by the chart's RBAC, so
every step also proves that RBAC is sufficient. The tests of this module run in order on one
namespace.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from flead.partitioning import partition_for
from flead_operator.grouping import Member, plan_groups
from flead_operator.samples import mote
from flead_operator.testing import OperatorProcess
from tests.cluster.operator.conftest import (
    SAMPLES,
    apply_docs,
    condition,
    devices,
    get_json,
    trainers,
    wait_ready,
)
from tests.support.testbed import kubectl, wait_until

pytestmark = pytest.mark.cluster

PARTITIONS, PER_TRAINER = 12, 4


def expected_trainers(device_ids: list[str]) -> set[str]:
    """Trainer names the pure grouping predicts for these device ids."""
    members = [Member(i, partition_for(i, PARTITIONS)) for i in device_ids]
    groups = plan_groups(members, partitions=PARTITIONS, partitions_per_trainer=PER_TRAINER)
    return {f"flead-trainer-{name}" for name in groups.groups}


def wait_trainers(namespace: str, names: set[str], timeout: float = 90.0) -> dict[str, Any]:
    """Wait until the trainer Deployments are exactly ``names``."""

    def probe() -> tuple[dict[str, Any]] | None:
        found = trainers(namespace)
        return (found,) if set(found) == names else None

    result: tuple[dict[str, Any]] = wait_until(f"trainers {sorted(names)}", probe, timeout)
    return result[0]


@pytest.fixture(scope="module")
def operator(operator_factory: Any, device_namespace: str) -> OperatorProcess:
    """One operator for the module, watching the device namespace."""
    proc: OperatorProcess = operator_factory(
        [device_namespace],
        FLEAD_OPERATOR_PARTITIONS_PER_TRAINER=str(PER_TRAINER),
        FLEAD_READINGS_PARTITIONS=str(PARTITIONS),
    ).start()
    return proc


def test_samples_become_ready_with_running_trainers(
    operator: OperatorProcess, device_namespace: str
) -> None:
    """Apply the 54 motes: the predicted trainers exist, pods Run on KWOK nodes, all devices Ready."""
    kubectl("apply", "-n", device_namespace, "-f", str(SAMPLES))
    names = expected_trainers([str(i) for i in range(1, 55)])
    found = wait_ready(device_namespace, 54)
    assert set(trainers(device_namespace)) == names
    for device in found.values():
        status = device["status"]
        assert status["trainer"] in names
        assert status["partition"] == partition_for(device["spec"]["deviceId"], PARTITIONS)
        assert status["trainer"] == f"flead-trainer-{status['partitionGroup']}"
        assert status["observedGeneration"] == device["metadata"]["generation"]
        assert device["spec"]["sensors"] == ["temperature", "humidity", "light", "voltage"]
    pods = get_json("pods", "-n", device_namespace, "-l", "app.kubernetes.io/component=trainer")
    kwok = {n["metadata"]["name"] for n in get_json("nodes", "-l", "type=kwok")["items"]}
    running = [p for p in pods["items"] if p["status"].get("phase") == "Running"]
    assert len(running) == len(names)
    assert {p["spec"]["nodeName"] for p in running} <= kwok
    env = trainers(device_namespace)["flead-trainer-p0-3"]["spec"]["template"]["spec"]
    values = {e["name"]: e["value"] for e in env["containers"][0]["env"]}
    assert values["FLEAD_PARTITIONS"] == "0,1,2,3"
    assert values["FLEAD_CONSUMER_GROUP"] == f"flead-trainer.{device_namespace}.p0-3"


def test_printer_columns_and_category(operator: OperatorProcess, device_namespace: str) -> None:
    """`kubectl get fd` shows the columns; `kubectl get flead` lists the devices too."""
    table = kubectl("get", "fd", "-n", device_namespace).stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "DEVICE",
        "PARTITION",
        "GROUP",
        "TRAINER",
        "READY",
        "ANOMALIES",
        "AGE",
    ]
    row = next(line.split() for line in table if line.startswith("mote-1 "))
    assert row[1] == "1"
    assert row[5] == "True"
    listed = kubectl("get", "flead", "-n", device_namespace, "-o", "name").stdout.split()
    assert len([n for n in listed if "federateddevice" in n]) == 54


def test_delete_half_shrinks_and_readd_restores(
    operator: OperatorProcess, device_namespace: str
) -> None:
    """Deleting motes 1-27 leaves only the groups of 28-54; re-adding brings every group back."""
    before = {n: d["metadata"]["uid"] for n, d in trainers(device_namespace).items()}
    kubectl("delete", "fd", "-n", device_namespace, *[f"mote-{i}" for i in range(1, 28)])
    kept = expected_trainers([str(i) for i in range(28, 55)])
    wait_trainers(device_namespace, kept)
    wait_ready(device_namespace, 27)
    apply_docs(device_namespace, [mote(i) for i in range(1, 28)])
    everything = expected_trainers([str(i) for i in range(1, 55)])
    after = wait_trainers(device_namespace, everything)
    wait_ready(device_namespace, 54)
    for name in kept:  # surviving trainers were never recreated
        assert after[name]["metadata"]["uid"] == before[name]


def _set_paused(namespace: str, name: str, *, paused: bool) -> None:
    patch = json.dumps({"spec": {"paused": paused}})
    kubectl("patch", "fd", name, "-n", namespace, "--type=merge", "-p", patch)


def test_paused_device_is_skipped(operator: OperatorProcess, device_namespace: str) -> None:
    """spec.paused=true: Ready=False with reason Paused, no group; unpausing makes it Ready again."""
    _set_paused(device_namespace, "mote-5", paused=True)

    def paused() -> bool:
        device = devices(device_namespace)["mote-5"]
        return condition(device).get("reason") == "Paused" and "trainer" not in device["status"]

    wait_until("mote-5 paused", paused, 30)
    _set_paused(device_namespace, "mote-5", paused=False)
    wait_ready(device_namespace, 54)


def test_restart_mid_reconcile_converges_without_duplicates(
    operator: OperatorProcess, device_namespace: str
) -> None:
    """Kill -9 the operator while it handles new devices; a new one converges, no duplicates, no churn."""
    generations = {n: d["metadata"]["generation"] for n, d in trainers(device_namespace).items()}
    operator.kill()
    extra = [mote(i) for i in range(100, 160)]
    for obj in extra:
        obj["spec"]["partition"] = 11  # all in group p8-11 (exists), plus spec changes below
    apply_docs(device_namespace, extra)
    operator.start()
    time.sleep(1.2)  # debounce passed: the reconcile is under way
    operator.kill()
    operator.start()
    wait_ready(device_namespace, 54 + len(extra))
    found = trainers(device_namespace)
    assert set(found) == expected_trainers([str(i) for i in range(1, 55)])
    rs = get_json(
        "replicasets", "-n", device_namespace, "-l", "app.kubernetes.io/component=trainer"
    )
    assert len(rs["items"]) == len(found)  # no duplicate rollouts
    assert {n: d["metadata"]["generation"] for n, d in found.items()} == generations
    kubectl("delete", "fd", "-n", device_namespace, *[o["metadata"]["name"] for o in extra])
    wait_ready(device_namespace, 54)


def test_liveness_metrics_and_graceful_shutdown(
    operator: OperatorProcess, device_namespace: str
) -> None:
    """/healthz is 200, /metrics has the documented series, SIGTERM exits cleanly."""
    assert operator.healthz() == 200
    page = operator.metrics()
    for name in (
        "flead_operator_reconcile_duration_seconds_bucket",
        "flead_operator_reconcile_errors_total",
        "flead_operator_devices",
        "flead_operator_groups",
        "flead_operator_trainers",
        'flead_operator_api_requests_total{verb="patch"}',
    ):
        assert name in page, name
    wait_until("54 devices counted", lambda: operator.metric("flead_operator_devices") == 54, 30)
    assert operator.metric("flead_operator_trainers") == len(trainers(device_namespace))
    assert operator.stop() == 0
    assert '"operator stopped"' in operator.log_tail(200)


def test_trainers_are_removed_when_every_device_is_gone(
    operator: OperatorProcess, device_namespace: str
) -> None:
    """Deleting all devices deletes every trainer: nothing is left orphaned."""
    operator.start()
    kubectl("delete", "fd", "--all", "-n", device_namespace)
    wait_trainers(device_namespace, set())
