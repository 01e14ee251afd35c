"""Per-update transforms: global L2 norm, norm clipping, the FedProx term, staleness weights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "clip_by_norm",
    "fedprox_gradient_term",
    "fedprox_penalty",
    "global_norm",
    "staleness_weight",
]


def global_norm(arrays: Sequence[np.ndarray]) -> float:
    """L2 norm over all arrays together, computed in float64 (no overflow for float32 input)."""
    total = 0.0
    for a in arrays:
        flat = np.asarray(a, dtype=np.float64).reshape(-1)
        total += float(flat @ flat)
    return float(np.sqrt(total))


def clip_by_norm(delta: Sequence[np.ndarray], max_norm: float) -> list[np.ndarray]:
    """Scale the update so its global L2 norm is at most max_norm; smaller updates are unchanged."""
    if not max_norm > 0:
        raise ValueError("max_norm must be > 0")
    norm = global_norm(delta)
    if not np.isfinite(norm):
        raise ValueError("update has non-finite values")
    if norm <= max_norm:
        return [np.array(a, dtype=np.float32) for a in delta]
    scale = max_norm / norm
    return [(np.asarray(a, dtype=np.float64) * scale).astype(np.float32) for a in delta]


def fedprox_gradient_term(
    weights: Sequence[np.ndarray], global_weights: Sequence[np.ndarray], mu: float
) -> list[np.ndarray]:
    """Gradient mu * (w - w_global) of the FedProx proximal term, added to the local gradient."""
    if mu < 0:
        raise ValueError("mu must be >= 0")
    if len(weights) != len(global_weights):
        raise ValueError("weights and global weights have different numbers of arrays")
    return [
        (np.float32(mu) * (np.asarray(w, np.float32) - np.asarray(g, np.float32))).astype(
            np.float32
        )
        for w, g in zip(weights, global_weights, strict=True)
    ]


def fedprox_penalty(
    weights: Sequence[np.ndarray], global_weights: Sequence[np.ndarray], mu: float
) -> float:
    """Value (mu / 2) * ||w - w_global||^2 of the FedProx proximal term."""
    diff = [
        np.asarray(w, np.float64) - np.asarray(g, np.float64)
        for w, g in zip(weights, global_weights, strict=True)
    ]
    return 0.5 * mu * global_norm(diff) ** 2


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
