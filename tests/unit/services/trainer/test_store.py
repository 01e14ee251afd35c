"""The checkpoint's pure parts: device documents round-trip, and how segments move and retire."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import OperationFailure

from flead_trainer.store import (
    Delta,
    DeviceState,
    TrainerStore,
    device_document,
    device_state,
    plan_segments,
)

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


STRAY = 'SQL logic error: table "devices.t.0.1_1a2b" already exists (1)'  # FerretDB's words


class _Collection:
    """The few collection calls `TrainerStore.save` makes, in memory; a collection with an
    `error` refuses inserts with it (as FerretDB refuses to create a table left by a kill)."""

    def __init__(self, error: str | None) -> None:
        self.error = error
        self.docs: list[dict[str, Any]] = []

    def insert_many(self, docs: list[dict[str, Any]], ordered: bool = True) -> None:
        if self.error:
            raise OperationFailure(self.error)
        self.docs += docs

    def find(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.docs)

    def delete_many(self, query: dict[str, Any]) -> None:
        self.docs = [d for d in self.docs if d["_id"] >= query["_id"]["$lt"]]

    def drop(self) -> None:
        self.docs = []


class _Database(dict[str, _Collection]):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__()
        self.errors = errors

    def __missing__(self, name: str) -> _Collection:
        self[name] = _Collection(self.errors.get(name))
        return self[name]


def _store(errors: dict[str, str]) -> tuple[TrainerStore, _Database]:
    db = _Database(errors)
    store = TrainerStore.__new__(TrainerStore)
    store.db, store.keep_segments = db, 4  # type: ignore[assignment]
    store.generation, store._where = {0: 0}, {0: {}}
    return store, db


def test_a_stray_segment_table_is_skipped_for_the_next_generation() -> None:
    """FerretDB refuses to create segment 1 (a table left behind by a kill): the checkpoint goes
    to generation 2 instead, whose manifest lists only segment 2 — the trainer neither stops nor
    crash-loops on the name (seen on the real node after a FerretDB SIGKILL)."""
    store, db = _store({"devices.t.0.1": STRAY})
    store.save("t", [Delta(0, 10, {"a": DeviceState(b"m")}, frozenset(), 0)])
    assert store.generation[0] == 2
    assert [d["_id"] for d in db["devices.t.0.2"].docs] == ["a"]
    manifest = db["manifests.t.0"].docs[-1]
    assert (manifest["_id"], manifest["segments"], manifest["next_offset"]) == (2, [2], 10)


def test_other_write_failures_still_stop_the_checkpoint() -> None:
    """Only the stray-table refusal is skipped; any other server error propagates."""
    store, _ = _store({"devices.t.0.1": "not authorized"})
    with pytest.raises(OperationFailure, match="not authorized"):
        store.save("t", [Delta(0, 10, {"a": DeviceState(b"m")}, frozenset(), 0)])
