"""FedBuff: buffered async steps, staleness down-weighting, version bookkeeping and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from flead.federation.buffer import FedBuff
from flead.federation.validate import UpdateRejected

pytestmark = pytest.mark.unit


def _zeros() -> list[np.ndarray]:
    return [np.zeros((2, 2), np.float32), np.zeros(3, np.float32)]


def _full(value: float) -> list[np.ndarray]:
    return [np.full((2, 2), value, np.float32), np.full(3, value, np.float32)]


def test_version_increments_after_buffer_size_updates() -> None:
    """The model moves only when buffer_size updates are in, then the version increments."""
    fb = FedBuff(3, initial=_zeros())
    assert fb.add_delta(_full(1.0), 10, 0) is None
    assert fb.add_delta(_full(1.0), 10, 0) is None
    assert fb.version == 0
    assert not fb.weights()[0].any()
    assert fb.add_delta(_full(1.0), 10, 0) == 1
    assert fb.version == 1
    assert fb.pending == 0
    np.testing.assert_allclose(fb.weights()[1], 1.0)


def test_fresh_buffer_is_fedavg_of_deltas() -> None:
    """With no staleness and server_lr=1 one step is the sample-weighted mean of the deltas."""
    fb = FedBuff(2, initial=_full(1.0))
    fb.add_delta(_full(2.0), 1, 0)
    fb.add_delta(_full(-2.0), 3, 0)
    np.testing.assert_allclose(fb.weights()[0], 1.0 + (2.0 * 1 - 2.0 * 3) / 4)


def test_staleness_reduces_an_old_updates_influence() -> None:
    """The same delta moves the model less when it is 3 versions stale: by (1+3)^-0.5 = 1/2."""
    fb = FedBuff(1, initial=_zeros(), max_staleness=5)
    for _ in range(3):
        fb.add_delta(_zeros(), 1, fb.version)
    before = fb.weights()[0].copy()
    fb.add_delta(_full(1.0), 1, base_version=0)
    np.testing.assert_allclose(fb.weights()[0] - before, 0.5)
    fresh = FedBuff(1, initial=_zeros())
    fresh.add_delta(_full(1.0), 1, 0)
    np.testing.assert_allclose(fresh.weights()[0], 1.0)


def test_stale_update_loses_against_fresh_one() -> None:
    """Opposite deltas of equal samples: the buffer leans towards the fresh update."""
    fb = FedBuff(1, initial=_zeros(), max_staleness=8)
    for _ in range(8):
        fb.add_delta(_zeros(), 1, fb.version)
    fb.buffer_size = 2
    start = fb.weights()[0].copy()
    fb.add_delta(_full(-1.0), 5, base_version=0)
    fb.add_delta(_full(1.0), 5, base_version=fb.version)
    assert (fb.weights()[0] - start > 0).all()


def test_add_weights_takes_the_delta_against_the_base_version() -> None:
    """Full weights trained from version v count as (weights - global_v), not as absolutes."""
    fb = FedBuff(1, initial=_full(1.0), staleness="constant")
    fb.add_delta(_full(1.0), 1, 0)  # global is now 2.0 at version 1
    fb.add_weights(_full(1.5), 1, base_version=0)  # +0.5 over version 0's 1.0
    np.testing.assert_allclose(fb.weights()[1], 2.5)


def test_too_stale_or_future_updates_are_rejected() -> None:
    """Older than max_staleness, or newer than the current version, raises UpdateRejected(stale)."""
    fb = FedBuff(1, initial=_zeros(), max_staleness=1)
    for _ in range(3):
        fb.add_delta(_zeros(), 1, fb.version)
    with pytest.raises(UpdateRejected) as old:
        fb.add_delta(_full(1.0), 1, base_version=1)
    assert (old.value.reason, old.value.field, old.value.outcome) == (
        "stale",
        "base_version",
        "stale",
    )
    with pytest.raises(UpdateRejected, match="newer"):
        fb.add_weights(_full(1.0), 1, base_version=9)
    assert fb.pending == 0


def test_server_lr_flush_and_reset() -> None:
    """server_lr scales the step; flush applies a partial buffer; reset replaces the model."""
    fb = FedBuff(10, initial=_zeros(), server_lr=0.5)
    assert fb.flush() is None
    fb.add_delta(_full(2.0), 4, 0)
    assert fb.flush() == 1
    np.testing.assert_allclose(fb.weights()[0], 1.0)
    fb.reset(_full(7.0), version=42)
    assert fb.version == 42
    np.testing.assert_allclose(fb.weights()[1], 7.0)
    with pytest.raises(UpdateRejected, match="not kept"):
        fb.add_weights(_zeros(), 1, base_version=41)
    fb.remember(_full(6.0), version=41)
    fb.add_weights(_full(6.5), 2, base_version=41)
    assert fb.version == 42
    assert fb.pending == 1
    with pytest.raises(ValueError, match="window"):
        fb.remember(_zeros(), version=42)


def test_bad_updates_and_settings_are_refused() -> None:
    """Wrong shapes, zero samples and invalid settings are refused."""
    fb = FedBuff(2, initial=_zeros())
    with pytest.raises(UpdateRejected) as shape:
        fb.add_delta([np.zeros(4, np.float32)], 1, 0)
    assert shape.value.reason == "shape"
    with pytest.raises(UpdateRejected) as samples:
        fb.add_delta(_zeros(), 0, 0)
    assert samples.value.reason == "samples"
    with pytest.raises(ValueError, match="buffer_size"):
        FedBuff(0, initial=_zeros())
    with pytest.raises(ValueError, match="unknown"):
        FedBuff(1, initial=_zeros(), staleness="linear")
