"""The checkpoint's pure parts: device documents round-trip, and how segments move and retire."""

from __future__ import annotations

import pytest

from flead_trainer.store import DeviceState, device_document, device_state, plan_segments

pytestmark = pytest.mark.unit


def test_device_document_round_trips_model_and_parts() -> None:
    """A device's model and named parts come back byte for byte; the document is keyed by device."""
    state = DeviceState(b"\x00model\xff", {"participant": b"p", "other": b""})
    doc = device_document("mote.7$", state)
    assert doc["_id"] == "mote.7$"
    assert all("." not in k and not k.startswith("$") for k in (*doc, *doc["parts"]))
    assert device_state(doc) == state


def test_changed_devices_move_to_the_new_segment_and_empty_segments_retire() -> None:
    """Devices that changed move to generation g; a segment left without devices retires."""
    plan = plan_segments({"a": 1, "b": 1, "c": 2}, changed=["a", "b"], dropped=[], generation=3)
    assert plan.where == {"a": 3, "b": 3, "c": 2}
    assert plan.retire == {1}
    assert plan.copy == {}


def test_unchanged_devices_stay_where_they_are() -> None:
    """An interval that changed one device writes one device: the others keep their segment."""
    plan = plan_segments({"a": 1, "b": 1, "c": 1}, changed=["c"], dropped=[], generation=2)
    assert plan.where == {"a": 1, "b": 1, "c": 2}
    assert plan.retire == frozenset()
    assert plan.copy == {}


def test_a_dropped_device_retires_its_segment_and_its_neighbours_are_copied() -> None:
    """Dropping a device retires its segment, so its state cannot come back on load."""
    plan = plan_segments({"a": 1, "b": 1, "c": 2}, changed=[], dropped=["a"], generation=3)
    assert "a" not in plan.where
    assert plan.retire == {1}
    assert plan.copy == {1: {"b"}}
    assert plan.where == {"b": 3, "c": 2}


def test_dropping_an_unknown_device_changes_nothing() -> None:
    """A device the partition never checkpointed needs no write."""
    plan = plan_segments({"a": 1}, changed=[], dropped=["zz"], generation=2)
    assert plan.where == {"a": 1}
    assert plan.retire == frozenset()
    assert plan.copy == {}


def test_segments_beyond_keep_are_compacted_oldest_first() -> None:
    """At most `keep` older segments remain; the oldest ones' devices are copied forward."""
    where = {"a": 1, "b": 2, "c": 3, "d": 4}
    plan = plan_segments(where, changed=["e"], dropped=[], generation=5, keep=2)
    assert plan.retire == {1, 2}
    assert plan.copy == {1: {"a"}, 2: {"b"}}
    assert plan.where == {"a": 5, "b": 5, "c": 3, "d": 4, "e": 5}
    assert len(set(plan.where.values()) - {5}) <= 2
