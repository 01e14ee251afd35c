"""Namespace plan: trainers to apply or delete and statuses to patch, converging to no calls."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest

from flead.partitioning import partition_for
from flead_operator.plan import Plan, effective_partition, plan_namespace
from flead_operator.records import DeviceRecord, TrainerRecord, device_record, trainer_record
from flead_operator.samples import samples
from flead_operator.settings import OperatorSettings

pytestmark = pytest.mark.unit

NOW = "2026-01-01T00:00:00Z"
S = OperatorSettings(readings_partitions=12, partitions_per_trainer=4)


def _devices(count: int = 54) -> list[DeviceRecord]:
    out = []
    for obj in samples(count):
        obj["metadata"].update(namespace="lab", generation=1)
        out.append(device_record(obj))
    return out


def _converge(devices: list[DeviceRecord], trainers: Iterable[TrainerRecord], plan: Plan):
    """Apply a plan the way the API server and kopf's indexes would (trainers become available)."""
    patches = dict(plan.status)
    devices = [
        DeviceRecord(**{**d.__dict__, "status": {**d.status, **patches.get(d.name, {})}})
        for d in devices
    ]
    kept = {t.name: t for t in trainers if t.name not in plan.delete}
    for body in plan.apply:
        body = {
            **body,
            "status": {
                "observedGeneration": 1,
                "updatedReplicas": 1,
                "readyReplicas": 1,
                "conditions": [{"type": "Available", "status": "True"}],
            },
        }
        body["metadata"] = {**body["metadata"], "generation": 1}
        kept[body["metadata"]["name"]] = trainer_record(body)
    return devices, list(kept.values())


def test_default_partition_is_the_producers_murmur2() -> None:
    """No spec.partition: the device uses flead.partitioning.partition_for(deviceId)."""
    device = _devices(1)[0]
    assert effective_partition(device, 12) == partition_for("1", 12)


def test_54_motes_converge_in_two_rounds_then_cost_nothing() -> None:
    """Round 1 creates 3 trainers and writes every status; round 2 marks all Ready; round 3: no calls."""
    devices, trainers = _devices(), []
    first = plan_namespace("lab", devices, trainers, S, NOW)
    assert sorted(b["metadata"]["name"] for b in first.apply) == [
        "flead-trainer-p0-3",
        "flead-trainer-p4-7",
        "flead-trainer-p8-11",
    ]
    assert len(first.status) == 54
    assert first.ready == 0
    assert first.groups == 3
    devices, trainers = _converge(devices, trainers, first)
    second = plan_namespace("lab", devices, trainers, S, NOW)
    assert second.apply == ()
    assert second.delete == ()
    assert all(patch["conditions"][-1]["status"] == "True" for _, patch in second.status)
    assert second.ready == 0  # counted once the written statuses are seen
    assert len(second.status) == 54
    devices, trainers = _converge(devices, trainers, second)
    third = plan_namespace("lab", devices, trainers, S, NOW)
    assert (third.apply, third.delete, third.status) == ((), (), ())
    assert third.ready == 54


def test_emptied_groups_are_deleted_and_others_kept() -> None:
    """Removing every device of a group deletes its trainer; the other trainers are untouched."""
    devices, trainers = _converge(_devices(), [], plan_namespace("lab", _devices(), [], S, NOW))
    keep = [d for d in devices if effective_partition(d, 12) >= 4]
    plan = plan_namespace("lab", keep, trainers, S, NOW)
    assert plan.delete == ("flead-trainer-p0-3",)
    assert plan.apply == ()


def test_orphan_trainers_are_deleted_when_no_device_is_left() -> None:
    """A labelled trainer in a namespace without devices is cleaned up."""
    orphan = TrainerRecord("flead-trainer-p0-3", "lab", "p0-3", "x", True, False, "", False)
    plan = plan_namespace("lab", [], [orphan], S, NOW)
    assert plan.delete == ("flead-trainer-p0-3",)


def test_a_trainer_being_deleted_is_neither_deleted_again_nor_applied() -> None:
    """deletionTimestamp set: wait for the DELETED event before re-creating."""
    gone = TrainerRecord("flead-trainer-p0-3", "lab", "p0-3", "x", False, False, "", True)
    devices = [d for d in _devices() if effective_partition(d, 12) < 4]
    plan = plan_namespace("lab", devices, [gone], S, NOW)
    assert plan.delete == ()
    assert plan.apply == ()


def test_changed_trainer_spec_is_reapplied_and_devices_wait() -> None:
    """A trainer with an old spec hash is re-applied; its devices are not Ready meanwhile."""
    devices, trainers = _converge(_devices(), [], plan_namespace("lab", _devices(), [], S, NOW))
    stale = [TrainerRecord(**{**t.__dict__, "spec_hash": "old"}) for t in trainers]
    plan = plan_namespace("lab", devices, stale, S, NOW)
    assert len(plan.apply) == 3
    assert plan.ready == 0


def test_devices_turning_ready_are_written_first() -> None:
    """With some trainers available and others not, Ready=True patches lead the list."""
    devices, trainers = _converge(_devices(), [], plan_namespace("lab", _devices(), [], S, NOW))
    fresh = [DeviceRecord(**{**d.__dict__, "status": {}}) for d in devices]
    half = [t for t in trainers if t.name != "flead-trainer-p4-7"]
    plan = plan_namespace("lab", fresh, half, S, NOW)
    flags = [patch["conditions"][-1]["status"] == "True" for _, patch in plan.status]
    assert flags == sorted(flags, reverse=True)
    assert True in flags
    assert False in flags


def test_paused_and_out_of_range_devices_get_no_trainer() -> None:
    """Paused devices and partitions beyond the topic say why in their status."""
    paused = DeviceRecord("a", "lab", "1", None, None, True, 1)
    far = DeviceRecord("b", "lab", "2", 40, None, False, 1)
    plan = plan_namespace("lab", [paused, far], [], S, NOW)
    assert plan.apply == ()
    assert plan.groups == 0
    reasons = {name: patch["conditions"][-1]["reason"] for name, patch in plan.status}
    assert reasons == {"a": "Paused", "b": "PartitionOutOfRange"}
    message = dict(plan.status)["b"]["conditions"][0]["message"]
    assert "spec.partition 40" in message
    assert "12 partitions" in message


def test_a_device_change_reassigns_without_restarting_the_trainer() -> None:
    """New sensors on one device: its group's ConfigMap and Deployment metadata are applied, the
    spec hash is unchanged (no rollout), and once seen nothing more is written."""
    devices, trainers = _devices(), []
    first = plan_namespace("lab", devices, trainers, S, NOW)
    assert len(first.configmaps) == 3
    devices, trainers = _converge(devices, trainers, first)
    changed = [
        DeviceRecord(**{**d.__dict__, "sensors": ("humidity",)}) if d.name == devices[0].name else d
        for d in devices
    ]
    second = plan_namespace("lab", changed, trainers, S, NOW)
    assert len(second.configmaps) == 1
    assert [b["metadata"]["name"] for b in second.apply] == [
        second.configmaps[0]["metadata"]["name"].removesuffix("-devices")
    ]
    before = {t.name: t.spec_hash for t in trainers}
    name = second.apply[0]["metadata"]["name"]
    assert second.apply[0]["metadata"]["annotations"]["flead.io/spec-hash"] == before[name]
    changed, trainers = _converge(changed, trainers, second)
    third = plan_namespace("lab", changed, trainers, S, NOW)
    assert third.configmaps == ()
    assert third.apply == ()


def test_paused_devices_are_listed_as_paused_to_the_trainer_of_their_partition() -> None:
    """A paused device keeps its place in its partition's group ConfigMap, marked paused."""
    served = DeviceRecord("a", "lab", "1", 0, None, False, 1)
    paused = DeviceRecord("b", "lab", "2", 0, None, True, 1)
    plan = plan_namespace("lab", [served, paused], [], S, NOW)
    (cm,) = plan.configmaps
    devices = json.loads(cm["data"]["devices.json"])["devices"]
    assert devices == {"1": {"paused": False}, "2": {"paused": True}}


def test_deleting_a_groups_last_device_deletes_its_configmap() -> None:
    """The trainer and its device ConfigMap go together."""
    devices, trainers = _devices(), []
    devices, trainers = _converge(devices, trainers, plan_namespace("lab", devices, [], S, NOW))
    plan = plan_namespace("lab", [], trainers, S, NOW)
    assert sorted(plan.delete_configmaps) == sorted(f"{name}-devices" for name in plan.delete)
    assert sorted(plan.delete_serviceaccounts) == sorted(plan.delete)
    assert len(plan.delete) == 3


def test_every_applied_trainer_brings_its_serviceaccount() -> None:
    """A ServiceAccount per applied Deployment, named as the pod's serviceAccountName, labelled
    with its group; a converged namespace applies none."""
    devices, trainers = _devices(), []
    plan = plan_namespace("lab", devices, [], S, NOW)
    accounts = {sa["metadata"]["name"]: sa for sa in plan.serviceaccounts}
    for body in plan.apply:
        pod = body["spec"]["template"]["spec"]
        sa = accounts[pod["serviceAccountName"]]
        assert (
            sa["metadata"]["labels"]["flead.io/partition-group"]
            == (body["metadata"]["labels"]["flead.io/partition-group"])
        )
    assert len(accounts) == len(plan.apply) == 3
    devices, trainers = _converge(devices, trainers, plan)
    assert plan_namespace("lab", devices, trainers, S, NOW).serviceaccounts == ()


def _new_devices(count: int, created: str) -> list[DeviceRecord]:
    return [DeviceRecord(**{**d.__dict__, "created": created}) for d in _devices(count)]


def test_new_devices_wait_for_their_trainer_and_are_written_once() -> None:
    """Devices created 3 s ago whose trainers are being created get no TrainerPending write
    (held, with a recheck when their 30 s grace ends); once the trainers are available, one
    write each says Ready: one status write per device instead of two."""
    devices = _new_devices(54, "2025-12-31T23:59:57Z")
    first = plan_namespace("lab", devices, [], S, NOW)
    assert len(first.apply) == 3
    assert first.status == ()
    assert first.held == 54
    assert first.recheck_seconds == pytest.approx(27.0)
    _, trainers = _converge(devices, [], first)
    second = plan_namespace("lab", devices, trainers, S, NOW)
    assert len(second.status) == 54
    assert all(patch["conditions"][-1]["reason"] == "Ready" for _, patch in second.status)
    assert (second.held, second.recheck_seconds) == (0, None)


def test_a_device_past_its_grace_or_of_unknown_age_says_trainer_pending() -> None:
    """The hold is bounded: a device older than the grace, one without a creation time, and
    every device when the grace is 0 get their TrainerPending status at once."""
    for devices, settings in (
        (_new_devices(54, "2025-12-31T23:59:15Z"), S),
        (_devices(54), S),
        (_new_devices(54, NOW), S.model_copy(update={"pending_grace_seconds": 0.0})),
    ):
        plan = plan_namespace("lab", devices, [], settings, NOW)
        assert plan.held == 0
        assert len(plan.status) == 54
        assert {p["conditions"][-1]["reason"] for _, p in plan.status} == {"TrainerPending"}


def test_a_device_with_a_written_status_is_never_held() -> None:
    """A device whose status the operator already wrote (e.g. Ready, then its trainer is
    re-rolled) is updated at once: the hold only spares the first write."""
    devices = _new_devices(54, "2025-12-31T23:59:59Z")
    written = [
        DeviceRecord(**{**d.__dict__, "status": {"conditions": [{"type": "Ready"}]}})
        for d in devices
    ]
    plan = plan_namespace("lab", written, [], S, NOW)
    assert plan.held == 0
    assert len(plan.status) == 54
