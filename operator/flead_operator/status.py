"""Pure status of a FederatedDevice: Assigned / Training / Ready conditions per the API conventions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flead_operator.records import DeviceRecord, TrainerRecord

__all__ = ["Assignment", "Verdict", "desired_status", "status_patch"]

CONDITION_TYPES = ("Assigned", "Training", "Ready")


@dataclass(frozen=True)
class Assignment:
    """Where grouping put a device: its partition, group and trainer, or why it has none."""

    partition: int
    group: str | None = None
    trainer: str | None = None
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class Verdict:
    """One condition's status, reason (one CamelCase word) and message."""

    status: str
    reason: str
    message: str


def _verdicts(assignment: Assignment, trainer: TrainerRecord | None) -> dict[str, Verdict]:
    """Assigned, Training and Ready for one device."""
    if assignment.group is None:
        off = Verdict("False", assignment.reason, assignment.message)
        return {"Assigned": off, "Training": off, "Ready": off}
    where = f"partition {assignment.partition} in group {assignment.group}"
    assigned = Verdict("True", "GroupAssigned", assignment.message or where)
    if trainer is not None and trainer.failed:
        down = Verdict("False", "TrainerUnavailable", f"{trainer.name}: {trainer.message}")
        return {"Assigned": assigned, "Training": down, "Ready": down}
    if trainer is None or not trainer.available:
        # One constant message from apply to availability: a roll-out costs no extra writes.
        message = f"waiting for {assignment.trainer} to become available"
        waiting = Verdict("False", "TrainerPending", message)
        return {"Assigned": assigned, "Training": waiting, "Ready": waiting}
    training = Verdict("True", "TrainerAvailable", f"{trainer.name} consumes {where}")
    ready = Verdict("True", "Ready", f"trained by {trainer.name}")
    return {"Assigned": assigned, "Training": training, "Ready": ready}


def desired_status(
    device: DeviceRecord, assignment: Assignment, trainer: TrainerRecord | None, now: str
) -> dict[str, Any]:
    """The status fields the operator owns; lastTransitionTime kept while a condition holds."""
    previous = {c.get("type"): c for c in device.status.get("conditions", []) or []}
    conditions = []
    for kind, verdict in _verdicts(assignment, trainer).items():
        before = previous.get(kind, {})
        since = before.get("lastTransitionTime") if before.get("status") == verdict.status else None
        conditions.append(
            {
                "type": kind,
                "status": verdict.status,
                "reason": verdict.reason,
                "message": verdict.message,
                "lastTransitionTime": since or now,
                "observedGeneration": device.generation,
            }
        )
    return {
        "observedGeneration": device.generation,
        "partition": assignment.partition,
        "partitionGroup": assignment.group,
        "trainer": assignment.trainer,
        "conditions": conditions,
    }


def status_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any] | None:
    """A JSON merge patch turning ``current`` into ``desired`` (None values delete), or None if equal."""
    changed = {key: value for key, value in desired.items() if current.get(key) != value}
    return changed or None
