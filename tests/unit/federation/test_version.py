"""ModelVersion: spec-checked tensors, successor lineage, and a lossless wire round trip."""

from __future__ import annotations

import numpy as np
import pytest

from flead.federation import Granularity, Kind, Lineage, ModelVersion, SpecMismatch
from flead.model import DeviceBank, ModelSpec
from flead.wire import WireError, encode_arrays

pytestmark = pytest.mark.unit

SPEC = ModelSpec(("t", "h"), hidden=(4,), seed=3)


def test_initial_is_the_banks_starting_point() -> None:
    """Version 0 of a spec equals the shared part of a fresh bank built with the same spec."""
    bank = DeviceBank(("t", "h"), seed=3)
    assert bank.spec == ModelSpec.of(("t", "h"), seed=3)
    v0 = ModelVersion.initial(bank.spec)
    net = bank.global_weights()
    assert len(v0.tensors) == len(net) + len(bank.spec.tensors()) - len(net)
    for a, b in zip(v0.tensors[: len(net)], net, strict=True):
        np.testing.assert_array_equal(a, b)


def test_blob_round_trip_keeps_everything() -> None:
    """to_blob/from_blob keep spec, number, tensors, lineage and granularity."""
    v0 = ModelVersion.initial(SPEC, created_at=5.0)
    lin = Lineage(Kind.ROUND, 0, "median", 9.0, ("a", "b"), ("t1", "t2"), 40)
    v1 = v0.successor([t + 1 for t in v0.tensors], lin)
    v1 = ModelVersion(v1.spec, v1.version, v1.tensors, v1.lineage, Granularity.PER_DEVICE)
    back = ModelVersion.from_blob(v1.to_blob())
    assert (back.spec, back.version, back.lineage, back.granularity) == (
        SPEC, 1, lin, Granularity.PER_DEVICE,
    )  # fmt: skip
    for a, b in zip(back.tensors, v1.tensors, strict=True):
        np.testing.assert_array_equal(a, b)


def test_tensors_must_fit_the_spec_and_blobs_must_be_versions() -> None:
    """Wrong tensor shapes raise ValueError; a blob without a spec is WireError bad_version."""
    with pytest.raises(ValueError, match="do not match"):
        ModelVersion(SPEC, 0, (np.zeros(3, np.float32),))
    with pytest.raises(WireError, match="bad_version"):
        ModelVersion.from_blob(encode_arrays([np.zeros(2, np.float32)], {"version": 1}))


def test_check_spec_names_both_specs_on_one_line() -> None:
    """A version of another spec is refused with one line naming ours and theirs."""
    other = ModelSpec(("t", "h"), hidden=(4,), seed=4)
    with pytest.raises(SpecMismatch) as caught:
        ModelVersion.initial(SPEC).check_spec(other)
    text = str(caught.value)
    assert "\n" not in text
    assert "seed=3" in text
    assert "seed=4" in text
