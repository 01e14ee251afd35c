"""The operator's assignment as the trainer reads it: who is served, paused, dropped, masked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flead_trainer.assignment import (
    Assignment,
    AssignmentFile,
    DevicePolicy,
    OncePer,
    Refusal,
    parse_assignment,
    select,
)

pytestmark = pytest.mark.unit

FEATURES = ("temperature", "humidity", "light")


def doc(**devices: dict[str, object]) -> str:
    """An assignment file's text."""
    return json.dumps({"version": 1, "revision": "r1", "devices": devices})


def test_no_assignment_serves_every_device() -> None:
    """Without an operator (local process stack) every device on the partitions is served."""
    a = Assignment()
    sel = select(np.array(["x", "y"], dtype=object), FEATURES, a)
    assert sel.keep.tolist() == [True, True]
    assert sel.refused == {}
    assert a.serves("anything")
    assert a.keeps("anything")


def test_paused_and_unassigned_rows_are_refused_with_their_reason() -> None:
    """A paused device is not served but kept; an unlisted one is neither."""
    a = parse_assignment(doc(a={}, b={"paused": True}))
    sel = select(np.array(["a", "b", "c", "a"], dtype=object), FEATURES, a)
    assert sel.keep.tolist() == [True, False, False, True]
    assert sel.refused == {"b": Refusal.PAUSED, "c": Refusal.UNASSIGNED}
    assert a.keeps("b")
    assert not a.serves("b")
    assert not a.keeps("c")


def test_features_a_device_does_not_report_are_masked() -> None:
    """spec.sensors limits which of the model's features a device's rows feed in."""
    a = parse_assignment(doc(a={"sensors": ["humidity"]}, b={}))
    sel = select(np.array(["a", "b"], dtype=object), FEATURES, a)
    assert sel.mask.tolist() == [[True, False, True], [False, False, False]]


def test_model_overrides_are_carried() -> None:
    """spec.model reaches the trainer as given."""
    a = parse_assignment(doc(a={"model": {"learningRate": "0.01"}}))
    assert a.devices == {"a": DevicePolicy(model={"learningRate": "0.01"})}
    assert a.revision == "r1"


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        json.dumps({"version": 2, "devices": {}}),
        json.dumps({"version": 1, "devices": []}),
        json.dumps({"version": 1, "devices": {"a": {"sensors": "temperature"}}}),
        json.dumps({"version": 1, "devices": {"a": {"model": [1]}}}),
    ],
)
def test_malformed_assignments_are_refused(text: str) -> None:
    """A file the trainer cannot trust raises ValueError (the trainer keeps what it has)."""
    with pytest.raises(ValueError, match="assignment"):
        parse_assignment(text)


def test_assignment_file_is_reread_only_when_it_changes(tmp_path: Path) -> None:
    """The mounted file is parsed when its bytes change, not on every poll."""
    path = tmp_path / "devices.json"
    path.write_text(doc(a={}))
    f = AssignmentFile(str(path))
    first = f.read()
    assert first is not None
    assert first.devices is not None
    assert set(first.devices) == {"a"}
    assert f.read() is None
    path.write_text(doc(a={}, b={}))
    second = f.read()
    assert second is not None
    assert second.devices is not None
    assert set(second.devices) == {"a", "b"}


def test_no_path_means_serve_everything_once() -> None:
    """With no file configured the first read yields the serve-everything assignment."""
    f = AssignmentFile("")
    assert f.read() == Assignment()
    assert f.read() is None


def test_once_per_limits_each_key() -> None:
    """A key is due once per window; other keys are independent."""
    gate = OncePer(60.0)
    assert gate.due("a", 0.0)
    assert not gate.due("a", 59.0)
    assert gate.due("b", 59.0)
    assert gate.due("a", 60.0)
