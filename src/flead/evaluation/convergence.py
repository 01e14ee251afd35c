"""How fast federation catches up: AUC-PR of the stream so far at every round, vs centralized."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flead.evaluation.ranking import auc_pr

__all__ = ["cumulative_auc_pr", "rounds_to_reach"]


def cumulative_auc_pr(
    label: np.ndarray, score: np.ndarray, ends: Sequence[int]
) -> list[float | None]:
    """AUC-PR of rows [0, end) for every `end` (rows in stream order; None before any positive)."""
    return [auc_pr(label[:end], score[:end]) for end in ends]


def rounds_to_reach(
    curve: Sequence[float | None], reference: Sequence[float | None], fraction: float = 0.95
) -> int | None:
    """First round (1-based) whose AUC-PR so far is >= `fraction` of the reference's at that round."""
    for i, (value, ref) in enumerate(zip(curve, reference, strict=True), start=1):
        if value is not None and ref is not None and value >= fraction * ref:
            return i
    return None
