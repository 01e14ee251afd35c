"""Pure aggregation policy: when a synchronous round is due, how a round combines its updates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flead.federation import clip_by_norm, coordinate_median, fedavg, krum, trimmed_mean
from flead.federation.rules import global_norm

__all__ = ["combine", "evaluate", "round_due"]


def round_due(
    pending: int, oldest_at: float | None, now: float, min_updates: int, timeout: float
) -> bool:
    """A sync round closes with >= min_updates pending, or >= 1 pending older than timeout."""
    if pending <= 0:
        return False
    if pending >= min_updates:
        return True
    return oldest_at is not None and now - oldest_at >= timeout


def combine(
    updates: Sequence[tuple[Sequence[np.ndarray], int]],
    global_weights: Sequence[np.ndarray],
    *,
    rule: str = "fedavg",
    beta: float = 0.1,
    byzantine: int = 0,
    clip_norm: float | None = None,
) -> list[np.ndarray]:
    """The next global weights from full-weight updates; optional step clipping, then the rule."""
    if not updates:
        raise ValueError("no updates to combine")
    results: Sequence[tuple[Sequence[np.ndarray], int]] = list(updates)
    if clip_norm is not None:
        clipped: list[tuple[Sequence[np.ndarray], int]] = []
        for weights, samples in results:
            step = [
                np.asarray(w, np.float32) - g for w, g in zip(weights, global_weights, strict=True)
            ]
            step = clip_by_norm(step, clip_norm)
            clipped.append(([g + s for g, s in zip(global_weights, step, strict=True)], samples))
        results = clipped
    if rule == "fedavg":
        return fedavg(results)
    if rule == "trimmed_mean":
        return trimmed_mean(results, beta) if len(results) > 2 else fedavg(results)
    if rule == "median":
        return coordinate_median(results)
    if rule == "krum":
        f = min(byzantine, max(0, len(results) - 3))
        return krum(results, f) if len(results) >= 3 else fedavg(results)
    raise ValueError(f"unknown rule {rule!r}")


def evaluate(
    old: Sequence[np.ndarray],
    new: Sequence[np.ndarray],
    losses: Sequence[tuple[float | None, int]],
) -> dict[str, float | None]:
    """Evaluation summary of a version: step norm and the sample-weighted mean client loss."""
    step = [
        np.asarray(n, np.float64) - np.asarray(o, np.float64) for o, n in zip(old, new, strict=True)
    ]
    known = [(loss, n) for loss, n in losses if loss is not None]
    total = sum(n for _, n in known)
    mean_loss = sum(loss * n for loss, n in known) / total if total else None
    return {"step_norm": global_norm(step), "mean_client_loss": mean_loss}
