"""Device status: the three conditions, their reasons, transition times and minimal patches."""

from __future__ import annotations

import pytest

from flead_operator.records import DeviceRecord, TrainerRecord
from flead_operator.status import Assignment, desired_status, status_patch

pytestmark = pytest.mark.unit

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"
DEVICE = DeviceRecord("mote-1", "lab", "1", None, None, False, 3)
ASSIGNED = Assignment(5, group="p4-7", trainer="flead-trainer-p4-7")


def _trainer(available: bool, failed: bool = False) -> TrainerRecord:
    message = "ok" if available else "ReplicaSet has timed out progressing"
    return TrainerRecord(
        "flead-trainer-p4-7", "lab", "p4-7", "h", available, failed, message, False
    )


def _conditions(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status["conditions"]}


def test_ready_only_when_the_trainer_is_available() -> None:
    """Assigned=True at once; Training and Ready turn True only with an available trainer."""
    pending = _conditions(desired_status(DEVICE, ASSIGNED, None, T0))
    assert pending["Assigned"]["status"] == "True"
    assert (pending["Ready"]["status"], pending["Ready"]["reason"]) == ("False", "TrainerPending")
    rolling = _conditions(desired_status(DEVICE, ASSIGNED, _trainer(False), T0))
    assert rolling["Ready"] == pending["Ready"]  # no extra write while the trainer rolls out
    down = _conditions(desired_status(DEVICE, ASSIGNED, _trainer(False, failed=True), T0))
    assert down["Training"]["reason"] == "TrainerUnavailable"
    assert "timed out progressing" in down["Ready"]["message"]
    up = desired_status(DEVICE, ASSIGNED, _trainer(True), T0)
    assert {c["type"]: c["status"] for c in up["conditions"]} == {
        "Assigned": "True",
        "Training": "True",
        "Ready": "True",
    }
    assert up["trainer"] == "flead-trainer-p4-7"
    assert up["partitionGroup"] == "p4-7"
    assert up["partition"] == 5
    assert up["observedGeneration"] == 3
    assert all(c["observedGeneration"] == 3 for c in up["conditions"])


def test_paused_device_says_paused_everywhere() -> None:
    """A paused device has no group or trainer and every condition is False/Paused."""
    paused = Assignment(5, reason="Paused", message="spec.paused is true")
    status = desired_status(DEVICE, paused, None, T0)
    assert status["partitionGroup"] is None
    assert status["trainer"] is None
    assert {c["reason"] for c in status["conditions"]} == {"Paused"}
    assert {c["status"] for c in status["conditions"]} == {"False"}


def test_transition_time_kept_while_the_status_holds() -> None:
    """lastTransitionTime changes only when a condition's status flips."""
    first = desired_status(DEVICE, ASSIGNED, None, T0)
    seen = DeviceRecord("mote-1", "lab", "1", None, None, False, 3, first)
    second = _conditions(desired_status(seen, ASSIGNED, _trainer(True), T1))
    assert second["Assigned"]["lastTransitionTime"] == T0
    assert second["Ready"]["lastTransitionTime"] == T1


def test_patch_is_none_when_nothing_changed() -> None:
    """Re-computing the status of an up-to-date device costs no API call."""
    status = desired_status(DEVICE, ASSIGNED, _trainer(True), T0)
    seen = DeviceRecord("mote-1", "lab", "1", None, None, False, 3, status)
    again = desired_status(seen, ASSIGNED, _trainer(True), T1)
    assert status_patch(seen.status, again) is None


def test_patch_holds_only_changed_fields_and_nulls_removed_ones() -> None:
    """A merge patch with the changed keys; None deletes a field (JSON merge patch)."""
    current = {"partition": 5, "partitionGroup": "p4-7", "trainer": "flead-trainer-p4-7"}
    desired = {"partition": 5, "partitionGroup": None, "trainer": None}
    assert status_patch(current, desired) == {"partitionGroup": None, "trainer": None}
