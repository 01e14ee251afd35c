"""Each injected fault type changes the series the way its name says, only where labelled."""

import numpy as np
import pytest

from flead.data.synth_faults import FAULT_TYPES, _apply, inject_faults

pytestmark = pytest.mark.unit


def test_each_fault_shape() -> None:
    """spike/offset shift by a constant, drift grows linearly, stuck holds, missing blanks."""
    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 1.0, 50)
    spike, size = _apply(rng, "spike", x[:2], 1.0)
    assert 5.0 <= abs(size) <= 9.0
    np.testing.assert_allclose(spike - x[:2], size)
    offset, size = _apply(rng, "offset", x, 1.0)
    np.testing.assert_allclose(offset - x, size)
    drift, rate = _apply(rng, "drift", x, 1.0)
    np.testing.assert_allclose(drift - x, np.arange(50) * rate)
    noisy, sd = _apply(rng, "noise", x, 1.0)
    assert np.std(noisy - x) > 0.5 * sd
    stuck, value = _apply(rng, "stuck", x, 1.0)
    assert (stuck == x[0]).all()
    assert value == x[0]
    missing, _ = _apply(rng, "missing", x, 1.0)
    assert np.isnan(missing).all()
    with pytest.raises(ValueError, match="unknown fault type"):
        _apply(rng, "melt", x, 1.0)


def test_injection_respects_warm_up_rate_and_existing_labels() -> None:
    """Events land after the warm-up, never on already-labelled rows, near the requested rate."""
    rng = np.random.default_rng(1)
    m, r = 6, 4000
    values = rng.normal(20.0, 1.0, (m, r, 4))
    label = np.zeros((m, r), dtype=np.int8)
    label[0, 3000:] = 1
    fault = np.where(label == 1, "natural_stuck", "").astype(object)
    kept = np.ones((m, r), dtype=bool)
    warmup = np.zeros((m, r), dtype=bool)
    warmup[:, :400] = True
    before = values.copy()
    events = inject_faults(rng, values, label, fault, kept, warmup, rate=0.03)
    assert events
    assert {e.kind for e in events} <= set(FAULT_TYPES)
    assert (fault[0, 3000:] == "natural_stuck").all()
    assert not label[:, :400].any()
    injected = np.isin(fault, FAULT_TYPES)
    assert 0.03 <= injected.mean() <= 0.06
    changed = ~np.isclose(values, before, equal_nan=False).all(axis=2)
    assert not (changed & ~injected).any()
