"""Validation of one model update before it may touch the global model, with a reason per refusal."""

from __future__ import annotations

from collections.abc import Container, Sequence

import numpy as np

from flead.federation.updates import global_norm

__all__ = ["OUTCOMES", "REASONS", "UpdateRejected", "outcome_of", "validate_update"]

REASONS = ("shape", "dtype", "non_finite", "norm", "stale", "duplicate", "samples")
OUTCOMES = ("accepted", "stale", "rejected", "duplicate")


def outcome_of(reason: str | None) -> str:
    """Label of `flead_updates_total{outcome}` for a rejection reason (None = accepted)."""
    if reason is None:
        return "accepted"
    if reason in ("stale", "duplicate"):
        return reason
    return "rejected"


class UpdateRejected(ValueError):  # noqa: N818 -- name fixed by docs/interfaces.md
    """An update was refused: `reason` (one of REASONS), the offending `field`, and a message."""

    def __init__(self, reason: str, field: str, message: str = "") -> None:
        super().__init__(f"{reason}: {field}: {message}" if message else f"{reason}: {field}")
        self.reason = reason
        self.field = field
        self.message = message or reason

    @property
    def outcome(self) -> str:
        """The metric label for this refusal: stale, duplicate or rejected."""
        return outcome_of(self.reason)

    def to_dict(self) -> dict[str, str]:
        """JSON body for a 4xx answer."""
        return {"reason": self.reason, "field": self.field, "message": self.message}


def validate_update(
    weights: Sequence[np.ndarray],
    samples: int,
    base_version: int,
    *,
    shapes: Sequence[Sequence[int]],
    current_version: int,
    max_norm: float | None = None,
    max_staleness: int | None = None,
    seen_ids: Container[str] | None = None,
    update_id: str | None = None,
    global_weights: Sequence[np.ndarray] | None = None,
    dtype: type[np.floating] = np.float32,
) -> None:
    """Raise UpdateRejected unless the update may be aggregated; checks cheapest first.

    duplicate: update_id already in seen_ids (checked first: a retry is not an error).
    samples: fewer than 1.  stale: base_version newer than current_version, or older than
    current_version - max_staleness.  shape: array count or any array's shape differs.
    dtype: not `dtype`.  non_finite: NaN or inf anywhere.  norm: the L2 norm over all arrays
    exceeds max_norm -- the norm of (weights - global_weights) when global_weights is given
    (i.e. of the update's step), else of the weights themselves (callers sending deltas).
    """
    if update_id is not None and seen_ids is not None and update_id in seen_ids:
        raise UpdateRejected("duplicate", "update_id", f"update {update_id!r} was already received")
    if not isinstance(samples, int | np.integer) or samples < 1:
        raise UpdateRejected("samples", "samples", f"must be an integer >= 1, got {samples!r}")
    if base_version > current_version:
        raise UpdateRejected(
            "stale",
            "base_version",
            f"base version {base_version} is newer than the current version {current_version}",
        )
    if max_staleness is not None and current_version - base_version > max_staleness:
        raise UpdateRejected(
            "stale",
            "base_version",
            f"base version {base_version} is {current_version - base_version} versions behind "
            f"{current_version}; the limit is {max_staleness}",
        )
    _check_arrays(weights, shapes, dtype)
    if max_norm is not None:
        step = weights
        if global_weights is not None:
            step = [
                np.asarray(w, np.float64) - g for w, g in zip(weights, global_weights, strict=True)
            ]
        norm = global_norm(step)
        if norm > max_norm:
            what = (
                "update norm (weights - global)" if global_weights is not None else "weights norm"
            )
            raise UpdateRejected(
                "norm", "weights", f"{what} {norm:.6g} exceeds the bound {max_norm:g}"
            )


def _check_arrays(
    weights: Sequence[np.ndarray], shapes: Sequence[Sequence[int]], dtype: type[np.floating]
) -> None:
    if len(weights) != len(shapes):
        raise UpdateRejected("shape", "weights", f"{len(weights)} arrays, expected {len(shapes)}")
    for i, (a, s) in enumerate(zip(weights, shapes, strict=True)):
        expected = tuple(int(d) for d in s)
        if np.shape(a) != expected:
            raise UpdateRejected(
                "shape", f"weights[{i}]", f"array {i} has shape {np.shape(a)}, expected {expected}"
            )
        got = np.asarray(a).dtype
        if got != np.dtype(dtype):
            raise UpdateRejected(
                "dtype", f"weights[{i}]", f"array {i} has dtype {got}, expected {np.dtype(dtype)}"
            )
    for i, a in enumerate(weights):
        if not np.isfinite(a).all():
            bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
            raise UpdateRejected(
                "non_finite", f"weights[{i}]", f"array {i} has {bad} NaN/inf values"
            )
