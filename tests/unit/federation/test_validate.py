"""Update validation: every refusal reason triggers, names its field, and maps to a metric label."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from flead.federation.validate import UpdateRejected, check_norm, outcome_of, validate_update

pytestmark = pytest.mark.unit

SHAPES = [(2, 3), (3,)]


def _weights(value: float = 0.1) -> list[np.ndarray]:
    return [np.full(s, value, np.float32) for s in SHAPES]


def _check(weights: list[np.ndarray] | None = None, **overrides: Any) -> None:
    kwargs: dict[str, Any] = {
        "samples": 10,
        "base_version": 5,
        "shapes": SHAPES,
        "current_version": 6,
        "max_staleness": 3,
        "seen_ids": {"u-old"},
        "update_id": "u-new",
    }
    kwargs.update(overrides)
    samples, base = kwargs.pop("samples"), kwargs.pop("base_version")
    validate_update(_weights() if weights is None else weights, samples, base, **kwargs)


def _reject(weights: list[np.ndarray] | None = None, **overrides: Any) -> UpdateRejected:
    with pytest.raises(UpdateRejected) as caught:
        _check(weights, **overrides)
    return caught.value


def test_a_good_update_passes() -> None:
    """A well-formed, fresh, small, new update raises nothing."""
    _check()
    _check(max_staleness=None, seen_ids=None, update_id=None)


@pytest.mark.parametrize(
    ("weights", "overrides", "reason", "field", "text"),
    [
        (_weights()[:1], {}, "shape", "weights", "1 arrays, expected 2"),
        (
            [_weights()[0], np.zeros(4, np.float32)],
            {},
            "shape",
            "weights[1]",
            "(4,), expected (3,)",
        ),
        ([_weights()[0], np.zeros(3, np.float64)], {}, "dtype", "weights[1]", "float64"),
        (
            [_weights()[0], np.array([0, np.nan, np.inf], np.float32)],
            {},
            "non_finite",
            "weights[1]",
            "2 NaN/inf",
        ),
        (None, {"base_version": 1}, "stale", "base_version", "5 versions behind"),
        (None, {"base_version": 7}, "stale", "base_version", "newer"),
        (None, {"update_id": "u-old"}, "duplicate", "update_id", "already received"),
        (None, {"samples": 0}, "samples", "samples", ">= 1"),
        (None, {"samples": 2.5}, "samples", "samples", "integer"),
    ],
)
def test_each_reason_names_its_field(
    weights: list[np.ndarray] | None, overrides: dict[str, Any], reason: str, field: str, text: str
) -> None:
    """Each malformed update is refused with the right reason, field and an explaining message."""
    err = _reject(weights, **overrides)
    assert (err.reason, err.field) == (reason, field)
    assert text in err.message
    assert err.to_dict() == {"reason": reason, "field": field, "message": err.message}


def test_norm_bound_names_the_step_and_the_bound() -> None:
    """check_norm refuses a step longer than the bound (reason norm, field weights), not at it."""
    check_norm(10.0, 10.0)
    check_norm(1e9, None)
    with pytest.raises(UpdateRejected) as caught:
        check_norm(10.5, 10.0)
    assert (caught.value.reason, caught.value.field) == ("norm", "weights")
    assert "10.5 exceeds the bound 10" in caught.value.message


def test_outcomes_map_to_metric_labels() -> None:
    """stale and duplicate keep their own label; every other reason counts as rejected."""
    assert outcome_of(None) == "accepted"
    assert _reject(update_id="u-old").outcome == "duplicate"
    assert _reject(base_version=0).outcome == "stale"
    for reason in ("shape", "dtype", "non_finite", "norm", "samples"):
        assert UpdateRejected(reason, "x").outcome == "rejected"


def test_duplicate_is_checked_before_everything_else() -> None:
    """A retried update is reported as duplicate even if it would also fail other checks."""
    assert _reject(_weights()[:1], update_id="u-old", samples=0).reason == "duplicate"
