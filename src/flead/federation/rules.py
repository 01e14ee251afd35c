"""Aggregation rules as pure functions over a [K, P] matrix of update steps, and their one registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np

__all__ = [
    "ROBUST_RULES",
    "Rule",
    "RuleParams",
    "fedavg",
    "krum_rows",
    "median_rows",
    "trimmed_mean_rows",
]


class Rule(str, Enum):
    """How a synchronous round combines its steps."""

    FEDAVG = "fedavg"
    TRIMMED_MEAN = "trimmed_mean"
    MEDIAN = "median"
    KRUM = "krum"


@dataclass(frozen=True)
class RuleParams:
    """Parameters of the robust rules: trimmed fraction, tolerated bad updates, Multi-Krum size."""

    beta: float = 0.1
    byzantine: int = 0
    multi: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.beta < 0.5:
            raise ValueError("beta must be in [0, 0.5)")
        if self.byzantine < 0 or self.multi < 1:
            raise ValueError("byzantine must be >= 0 and multi >= 1")


def fedavg(total: np.ndarray, samples: int) -> np.ndarray:
    """FedAvg from its sufficient statistics: the sample-weighted sum of steps over the samples.

    The sum is accumulated one update at a time (`accumulate.WeightedSum`), so closing a round
    reads nothing but this vector.
    """
    if samples < 1:
        raise ValueError("no samples to average")
    result: np.ndarray = (total / samples).astype(np.float32)
    return result


def median_rows(matrix: np.ndarray, _: RuleParams | None = None) -> np.ndarray:
    """Coordinate-wise median of the rows (mean of the middle two if K is even)."""
    result: np.ndarray = np.median(matrix, axis=0).astype(np.float32)
    return result


def trimmed_mean_rows(matrix: np.ndarray, params: RuleParams) -> np.ndarray:
    """Coordinate-wise mean after dropping floor(beta*K) rows from each end."""
    k = matrix.shape[0]
    cut = int(params.beta * k)
    if cut == 0:
        return matrix.mean(axis=0, dtype=np.float64).astype(np.float32)
    part = np.partition(matrix, (cut, k - cut - 1), axis=0)
    result: np.ndarray = part[cut : k - cut].mean(axis=0, dtype=np.float64).astype(np.float32)
    return result


def krum_rows(matrix: np.ndarray, params: RuleParams) -> np.ndarray:
    """(Multi-)Krum: mean of the `multi` rows with the smallest sum of squared distances to
    their K - f - 2 nearest other rows; f shrinks to K - 3 and K < 3 falls back to the median."""
    k = matrix.shape[0]
    if k < 3:
        return median_rows(matrix)
    f = min(params.byzantine, k - 3)
    multi = min(params.multi, k)
    m64 = matrix.astype(np.float64)
    sq = np.einsum("ij,ij->i", m64, m64)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (m64 @ m64.T), 0.0)
    np.fill_diagonal(dist, np.inf)
    nearest = np.sort(dist, axis=1)[:, : k - f - 2]
    chosen = np.argsort(nearest.sum(axis=1), kind="stable")[:multi]
    result: np.ndarray = m64[chosen].mean(axis=0).astype(np.float32)
    return result


RowRule = Callable[[np.ndarray, RuleParams], np.ndarray]

# The one rule registry. FedAvg is not here: it needs only a running sum (see `fedavg`).
ROBUST_RULES: dict[Rule, RowRule] = {
    Rule.TRIMMED_MEAN: trimmed_mean_rows,
    Rule.MEDIAN: median_rows,
    Rule.KRUM: krum_rows,
}
