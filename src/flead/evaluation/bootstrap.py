"""Paired differences over devices with a bootstrap 95 % interval (devices resampled)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

__all__ = ["Difference", "paired_difference"]

RESAMPLES = 4000


class Difference(NamedTuple):
    """Mean of a - b over the units (device x seed) both have, and its bootstrap interval."""

    mean: float | None
    low: float | None
    high: float | None
    units: int

    @property
    def excludes_zero(self) -> bool | None:
        if self.low is None or self.high is None:
            return None
        return self.low > 0 or self.high < 0


def paired_difference(
    a: Mapping[str, float], b: Mapping[str, float], resamples: int = RESAMPLES, seed: int = 0
) -> Difference:
    """a[unit] - b[unit] over the shared units; percentile 95 % interval of the mean from
    `resamples` resamples of the units with replacement (vectorised; fixed `seed`)."""
    keys = sorted(set(a) & set(b))
    if not keys:
        return Difference(None, None, None, 0)
    d = np.array([float(a[k]) - float(b[k]) for k in keys])
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return Difference(float(d.mean()), float(low), float(high), len(d))
