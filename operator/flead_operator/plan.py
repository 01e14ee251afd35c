"""Pure reconcile plan of one namespace: which Deployments to apply or delete, which statuses to patch."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flead.partitioning import partition_for
from flead_operator.grouping import Member, plan_groups
from flead_operator.records import (
    ASSIGNMENT_LABEL,
    GROUP_LABEL,
    HASH_ANNOTATION,
    DeviceRecord,
    TrainerRecord,
)
from flead_operator.settings import OperatorSettings
from flead_operator.specs import (
    assignment_configmap,
    assignment_name,
    trainer_deployment,
    trainer_name,
    trainer_serviceaccount,
)
from flead_operator.status import Assignment, desired_status, status_patch

__all__ = ["Plan", "effective_partition", "group_devices", "pending_hold", "plan_namespace"]


@dataclass(frozen=True)
class Plan:
    """The API calls that bring one namespace to its desired state, and what it will look like."""

    apply: tuple[dict[str, Any], ...]
    delete: tuple[str, ...]
    status: tuple[tuple[str, dict[str, Any]], ...]  # devices turning Ready first
    devices: int
    groups: int
    ready: int  # devices whose stored status already says Ready=True
    configmaps: tuple[dict[str, Any], ...] = ()  # device assignments, applied before `apply`
    delete_configmaps: tuple[str, ...] = ()  # assignments of deleted trainers, after `delete`
    serviceaccounts: tuple[dict[str, Any], ...] = ()  # identities of `apply`, applied first
    delete_serviceaccounts: tuple[str, ...] = ()  # identities of deleted trainers, after `delete`
    held: int = 0  # new devices whose first status waits for their trainer (pending grace)
    recheck_seconds: float | None = None  # when the first of them is due anyway


def effective_partition(device: DeviceRecord, partitions: int) -> int:
    """spec.partition when given, else the producer's stable function of the device id."""
    if device.partition is not None:
        return device.partition
    return partition_for(device.device_id, partitions)


def _assignments(
    devices: list[DeviceRecord], s: OperatorSettings
) -> tuple[dict[str, Assignment], dict[str, tuple[int, ...]]]:
    """Each device's assignment and each group's partitions."""
    assignments: dict[str, Assignment] = {}
    members: list[Member] = []
    for device in devices:
        partition = effective_partition(device, s.readings_partitions)
        if device.paused:
            reason, message = "Paused", "spec.paused is true: no trainer serves this device"
            assignments[device.name] = Assignment(partition, reason=reason, message=message)
        elif partition >= s.readings_partitions:
            message = (
                f"spec.partition {partition} is outside the readings topic's "
                f"{s.readings_partitions} partitions (0..{s.readings_partitions - 1})"
            )
            assignments[device.name] = Assignment(
                partition, reason="PartitionOutOfRange", message=message
            )
        else:
            members.append(Member(device.name, partition, device.group))
    grouping = plan_groups(
        members,
        partitions=s.readings_partitions,
        partitions_per_trainer=s.partitions_per_trainer,
        max_devices=s.max_devices_per_trainer,
    )
    for member in members:
        group = grouping.assignment[member.name]
        assignments[member.name] = Assignment(
            member.partition,
            group=group,
            trainer=trainer_name(group),
            message=grouping.notes.get(member.name, ""),
        )
    return assignments, {name: g.partitions for name, g in grouping.groups.items()}


def _timestamp(value: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return None


def pending_hold(
    device: DeviceRecord, desired: dict[str, Any], now: str, grace: float
) -> float | None:
    """Seconds a new device's first status may still wait for its trainer, or None to write now.

    Only a device the operator never wrote a status for, whose trainer is being created or
    rolled out (``TrainerPending``), waits: once its trainer is available it gets one write
    (Ready) instead of two. A device of unknown age, or older than ``grace``, never waits."""
    if device.status.get("conditions") or desired["conditions"][-1]["reason"] != "TrainerPending":
        return None
    created, current = _timestamp(device.created), _timestamp(now)
    if created is None or current is None:
        return None
    left = grace - (current - created).total_seconds()
    return left if left > 0 else None


def group_devices(
    devices: Iterable[DeviceRecord],
    assignments: dict[str, Assignment],
    groups: dict[str, tuple[int, ...]],
) -> dict[str, list[DeviceRecord]]:
    """The devices each group's trainer is told about: its members, plus the paused devices on
    its partitions (so it keeps their state but does not serve them)."""
    owner = {p: group for group, partitions in groups.items() for p in partitions}
    out: dict[str, list[DeviceRecord]] = {group: [] for group in groups}
    for device in devices:
        a = assignments[device.name]
        group = a.group or (owner.get(a.partition) if device.paused else None)
        if group is not None:
            out[group].append(device)
    return out


def plan_namespace(
    namespace: str,
    devices: Iterable[DeviceRecord],
    trainers: Iterable[TrainerRecord],
    s: OperatorSettings,
    now: str,
) -> Plan:
    """Compare the desired trainers and statuses of ``namespace`` with what the indexes hold."""
    devices = sorted(devices, key=lambda d: d.name)
    existing = {t.name: t for t in trainers}
    assignments, groups = _assignments(devices, s)
    members = group_devices(devices, assignments, groups)
    configmaps = {
        trainer_name(group): assignment_configmap(namespace, group, members[group])
        for group in groups
    }
    revision = {
        name: body["metadata"]["labels"][ASSIGNMENT_LABEL] for name, body in configmaps.items()
    }
    wanted = {
        trainer_name(group): trainer_deployment(
            namespace, group, partitions, s, revision[trainer_name(group)]
        )
        for group, partitions in groups.items()
    }
    current_hash = {
        name: body["metadata"]["annotations"][HASH_ANNOTATION] for name, body in wanted.items()
    }
    stale = {
        name
        for name in wanted
        if name not in existing
        or existing[name].spec_hash != current_hash[name]
        or existing[name].assignment_hash != revision[name]
        if not (name in existing and existing[name].deleting)
    }
    apply = tuple(body for name, body in wanted.items() if name in stale)
    reassign = tuple(
        body
        for name, body in configmaps.items()
        if name in stale
        and (name not in existing or existing[name].assignment_hash != revision[name])
    )
    delete = tuple(
        sorted(name for name, t in existing.items() if name not in wanted and not t.deleting)
    )
    patches: list[tuple[str, dict[str, Any]]] = []
    ready = 0
    holds: list[float] = []
    for device in devices:
        assignment = assignments[device.name]
        trainer = existing.get(assignment.trainer or "")
        if trainer is not None and trainer.spec_hash != current_hash.get(trainer.name):
            trainer = None  # still serving an older assignment: wait for the new spec
        desired = desired_status(device, assignment, trainer, now)
        patch = status_patch(device.status, desired)
        ready += patch is None and desired["conditions"][-1]["status"] == "True"
        if patch is not None and (
            hold := pending_hold(device, desired, now, s.pending_grace_seconds)
        ):
            holds.append(hold)
        elif patch is not None:
            patches.append((device.name, patch))
    # Devices turning Ready first: when writes are batched, the news users wait for goes out first.
    patches.sort(key=lambda item: item[1].get("conditions", [{}])[-1].get("status") != "True")
    return Plan(
        apply=apply,
        configmaps=reassign,
        delete_configmaps=tuple(assignment_name(existing[name].group) for name in delete),
        serviceaccounts=tuple(
            trainer_serviceaccount(namespace, body["metadata"]["labels"][GROUP_LABEL])
            for body in apply
        ),
        delete_serviceaccounts=delete,
        delete=delete,
        status=tuple(patches),
        devices=len(devices),
        groups=len(groups),
        ready=ready,
        held=len(holds),
        recheck_seconds=min(holds, default=None),
    )
