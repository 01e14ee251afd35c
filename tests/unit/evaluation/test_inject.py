"""The held-out check's own injector: labels what it changes, never overwrites a label, is seeded."""

import numpy as np
import pytest

from flead.data.synth import generate
from flead.evaluation.inject import KINDS, inject_other

pytestmark = pytest.mark.unit


def test_events_change_exactly_their_labelled_rows() -> None:
    """Every event's rows are labelled with its kind; values change only inside events (a
    flatline may repeat the value already there); natural-failure labels survive; same seed,
    same events."""
    r = generate(seed=4, devices=3, days=2.0, faults=False).readings
    out, events = inject_other(r, 7)
    assert events
    assert {e.kind for e in events} <= set(KINDS)
    ids = r.device.astype(str)
    for e in events:
        rows = np.flatnonzero(ids == e.device)[e.start : e.stop]
        assert (out.fault[rows] == e.kind).all()
        assert out.label[rows].all()
    changed = ~np.isclose(out.values, r.values, equal_nan=True).all(axis=1)
    assert not (changed & (out.label == 0)).any()
    natural = r.fault == "natural_stuck"
    assert (out.fault[natural] == "natural_stuck").all()
    again, events2 = inject_other(r, 7)
    assert events2 == events
    np.testing.assert_array_equal(again.values, out.values)
