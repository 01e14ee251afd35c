"""Index values: what is read from FederatedDevice and Deployment bodies."""

from __future__ import annotations

import pytest

from flead_operator.records import device_record, trainer_record

pytestmark = pytest.mark.unit


def _deployment(**status: object) -> dict:
    return {
        "metadata": {
            "name": "flead-trainer-p0-3",
            "namespace": "lab",
            "generation": 2,
            "labels": {"flead.io/partition-group": "p0-3"},
            "annotations": {"flead.io/spec-hash": "abc"},
        },
        "spec": {"replicas": 1},
        "status": status,
    }


def test_device_record_reads_spec_and_owned_status() -> None:
    """Spec fields, generation and only the status keys the operator owns are kept."""
    record = device_record(
        {
            "metadata": {"name": "mote-7", "namespace": "lab", "generation": 4},
            "spec": {"deviceId": "7", "partition": 3, "partitionGroup": "lab", "paused": True},
            "status": {"trainer": "t", "anomalies": 9, "lastSeen": "2026-01-01T00:00:00Z"},
        }
    )
    assert (record.device_id, record.partition, record.group, record.paused) == (
        "7",
        3,
        "lab",
        True,
    )
    assert record.generation == 4
    assert record.status == {"trainer": "t", "anomalies": 9}


def test_trainer_available_only_when_current_generation_is_ready() -> None:
    """Available=True plus observedGeneration, updated and ready replicas all caught up."""
    ok = trainer_record(
        _deployment(
            observedGeneration=2,
            updatedReplicas=1,
            readyReplicas=1,
            conditions=[{"type": "Available", "status": "True"}],
        )
    )
    assert ok.available
    assert ok.group == "p0-3"
    assert ok.spec_hash == "abc"
    old = trainer_record(
        _deployment(
            observedGeneration=1,
            updatedReplicas=1,
            readyReplicas=1,
            conditions=[{"type": "Available", "status": "True"}],
        )
    )
    assert not old.available
    assert not old.failed
    stuck = trainer_record(
        _deployment(conditions=[{"type": "Progressing", "status": "False", "message": "timed out"}])
    )
    assert stuck.failed
    assert stuck.message == "timed out"
    fresh = trainer_record(_deployment())
    assert not fresh.available
    assert not fresh.deleting
