"""Validation of one model update before it may touch the global model, with a reason per refusal."""

from __future__ import annotations

from collections.abc import Container, Sequence

import numpy as np

__all__ = [
    "OUTCOMES",
    "REASONS",
    "UpdateRejected",
    "check_finite",
    "check_norm",
    "outcome_of",
    "validate_update",
]

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
    max_staleness: int | None = None,
    seen_ids: Container[str] | None = None,
    update_id: str | None = None,
    dtype: type[np.floating] = np.float32,
    finite: bool = True,
) -> None:
    """Raise UpdateRejected unless the update may be aggregated; checks cheapest first.

    duplicate: update_id already in seen_ids (checked first: a retry is not an error).
    samples: fewer than 1.  stale: base_version newer than current_version, or older than
    current_version - max_staleness.  shape: array count or any array's shape differs.
    dtype: not `dtype`.  non_finite: NaN or inf anywhere (unless `finite` is False: the caller
    checks the flattened step and calls `check_finite` for the reason).  The norm of the step is checked by
    `check_norm` once the step (weights - base version) is known.
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
    if finite:
        check_finite(weights)


def check_finite(weights: Sequence[np.ndarray]) -> None:
    """Raise UpdateRejected('non_finite') naming the first array holding NaN or inf."""
    for i, a in enumerate(weights):
        if not np.isfinite(a).all():
            bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
            raise UpdateRejected(
                "non_finite", f"weights[{i}]", f"array {i} has {bad} NaN/inf values"
            )


def check_norm(norm: float, max_norm: float | None) -> None:
    """Raise UpdateRejected('norm') when the step's L2 norm exceeds the bound."""
    if max_norm is not None and norm > max_norm:
        raise UpdateRejected(
            "norm",
            "weights",
            f"update norm (weights - base) {norm:.6g} exceeds the bound {max_norm:g}",
        )


def _check_arrays(
    weights: Sequence[np.ndarray], shapes: Sequence[Sequence[int]], dtype: type[np.floating]
) -> None:
    want = np.dtype(dtype)
    fast = [(getattr(a, "shape", None), getattr(a, "dtype", None)) for a in weights]
    if fast == [(tuple(s), want) for s in shapes]:  # the common case: one comparison
        return
    if len(weights) != len(shapes):
        raise UpdateRejected("shape", "weights", f"{len(weights)} arrays, expected {len(shapes)}")
    for i, (a, s) in enumerate(zip(weights, shapes, strict=True)):
        expected = tuple(int(d) for d in s)
        if np.shape(a) != expected:
            raise UpdateRejected(
                "shape", f"weights[{i}]", f"array {i} has shape {np.shape(a)}, expected {expected}"
            )
        got = np.asarray(a).dtype
        if got != want:
            raise UpdateRejected(
                "dtype", f"weights[{i}]", f"array {i} has dtype {got}, expected {want}"
            )
