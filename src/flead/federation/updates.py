"""Per-update transforms: the L2 norm and norm clipping of a step, staleness weights."""

from __future__ import annotations

import numpy as np

__all__ = ["clip_step", "norm_of", "staleness_weight"]


def norm_of(step: np.ndarray) -> float:
    """L2 norm of one flat vector, in float64."""
    s = np.asarray(step, np.float64)
    return float(np.sqrt(s @ s))


def clip_step(step: np.ndarray, max_norm: float) -> np.ndarray:
    """The flat step scaled so its L2 norm is at most max_norm (smaller steps are unchanged)."""
    if not max_norm > 0:
        raise ValueError("max_norm must be > 0")
    norm = norm_of(step)
    if not np.isfinite(norm):
        raise ValueError("step has non-finite values")
    if norm <= max_norm:
        return step
    scaled: np.ndarray = (step * np.float32(max_norm / norm)).astype(np.float32)
    return scaled


def staleness_weight(staleness: int, kind: str = "polynomial", a: float = 0.5, b: int = 4) -> float:
    """Down-weighting of an update `staleness` versions old.

    polynomial: (1 + s)^-a;  constant: 1;  hinge: 1 if s <= b else 1 / (a * (s - b) + 1).
    """
    if staleness < 0:
        raise ValueError("staleness must be >= 0")
    if a < 0:
        raise ValueError("a must be >= 0")
    if kind == "polynomial":
        return float((1.0 + staleness) ** -a)
    if kind == "constant":
        return 1.0
    if kind == "hinge":
        return 1.0 if staleness <= b else 1.0 / (a * (staleness - b) + 1.0)
    raise ValueError(f"unknown staleness kind {kind!r} (polynomial, constant, hinge)")
