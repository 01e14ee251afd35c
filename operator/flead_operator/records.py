"""What the operator remembers of each FederatedDevice and trainer Deployment (its index values)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ASSIGNMENT_LABEL",
    "GROUP",
    "GROUP_LABEL",
    "HASH_ANNOTATION",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "PARTITIONS_ANNOTATION",
    "PLURAL",
    "VERSION",
    "DeviceRecord",
    "TrainerRecord",
    "device_record",
    "trainer_record",
]

GROUP = "flead.io"
VERSION = "v1alpha1"
PLURAL = "federateddevices"
GROUP_LABEL = "flead.io/partition-group"
PARTITIONS_ANNOTATION = "flead.io/partitions"
HASH_ANNOTATION = "flead.io/spec-hash"
ASSIGNMENT_LABEL = "flead.io/assignment-hash"  # of the group's device ConfigMap, last applied
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "flead-operator"
_STATUS_KEYS = (
    "observedGeneration",
    "partition",
    "partitionGroup",
    "trainer",
    "conditions",
    "anomalies",
)


@dataclass(frozen=True)
class DeviceRecord:
    """One FederatedDevice: its spec as the operator needs it and the status fields it owns."""

    name: str
    namespace: str
    device_id: str
    partition: int | None
    group: str | None
    paused: bool
    generation: int
    status: Mapping[str, Any] = field(default_factory=dict, hash=False)
    sensors: tuple[str, ...] | None = None  # spec.sensors (None: absent)
    model: Mapping[str, Any] = field(default_factory=dict, hash=False)  # spec.model overrides
    # Which object and version this is: a re-created device or an echoed write is a new record.
    uid: str = ""
    resource_version: str = ""
    created: str = ""  # metadata.creationTimestamp (RFC 3339, UTC)


@dataclass(frozen=True)
class TrainerRecord:
    """One trainer Deployment created by the operator, with its observed availability."""

    name: str
    namespace: str
    group: str
    spec_hash: str
    available: bool
    failed: bool
    message: str
    deleting: bool
    uid: str = ""
    resource_version: str = ""
    assignment_hash: str = ""


def device_record(body: Mapping[str, Any]) -> DeviceRecord:
    """Build the index value of a FederatedDevice body (a kopf Body or a plain dict)."""
    meta = body.get("metadata", {})
    spec = body.get("spec", {}) or {}
    status = body.get("status", {}) or {}
    partition = spec.get("partition")
    sensors = spec.get("sensors")
    return DeviceRecord(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", ""),
        device_id=str(spec.get("deviceId", "")),
        partition=int(partition) if partition is not None else None,
        group=spec.get("partitionGroup") or None,
        paused=bool(spec.get("paused", False)),
        generation=int(meta.get("generation", 0) or 0),
        status={key: copy.deepcopy(status[key]) for key in _STATUS_KEYS if key in status},
        sensors=tuple(str(x) for x in sensors) if sensors is not None else None,
        model=copy.deepcopy(dict(spec.get("model") or {})),
        uid=meta.get("uid", ""),
        resource_version=meta.get("resourceVersion", ""),
        created=meta.get("creationTimestamp", "") or "",
    )


def trainer_record(body: Mapping[str, Any]) -> TrainerRecord:
    """Build the index value of a trainer Deployment: available only once the current spec is served;
    failed when its Progressing condition is False (e.g. ProgressDeadlineExceeded)."""
    meta = body.get("metadata", {})
    spec = body.get("spec", {}) or {}
    status = body.get("status", {}) or {}
    conditions = {c.get("type"): c for c in status.get("conditions", []) or []}
    available = conditions.get("Available", {})
    progressing = conditions.get("Progressing", {})
    wanted = int(spec.get("replicas", 1) or 0)
    rolled_out = (
        int(status.get("observedGeneration", 0) or 0) >= int(meta.get("generation", 0) or 0)
        and int(status.get("updatedReplicas", 0) or 0) >= wanted
        and int(status.get("readyReplicas", 0) or 0) >= wanted
    )
    is_available = available.get("status") == "True" and rolled_out and wanted > 0
    failed = progressing.get("status") == "False"  # e.g. ProgressDeadlineExceeded
    if is_available:
        message = "trainer Deployment is available"
    elif failed:
        message = progressing.get("message") or "trainer Deployment failed to progress"
    else:
        message = available.get("message") or "trainer Deployment is not available"
    return TrainerRecord(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", ""),
        group=(meta.get("labels") or {}).get(GROUP_LABEL, ""),
        spec_hash=(meta.get("annotations") or {}).get(HASH_ANNOTATION, ""),
        assignment_hash=(meta.get("labels") or {}).get(ASSIGNMENT_LABEL, ""),
        available=is_available,
        failed=failed,
        message=message,
        deleting=meta.get("deletionTimestamp") is not None,
        uid=meta.get("uid", ""),
        resource_version=meta.get("resourceVersion", ""),
    )
