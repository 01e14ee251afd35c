"""Incremental round state: a running weighted sum (O(P) per update) or the round's rows, growable."""

from __future__ import annotations

import numpy as np

__all__ = ["Rows", "WeightedSum"]


class WeightedSum:
    """float64 running sum of weight * step over one round; `add` is O(P), nothing is kept."""

    def __init__(self, size: int) -> None:
        self.total = np.zeros(size, np.float64)
        self.count = 0

    def add(self, step: np.ndarray, weight: float) -> None:
        """Fold one flat float32 step in with its weight."""
        self.total += np.float64(weight) * step
        self.count += 1

    def reset(self) -> None:
        """Start a new round, reusing the buffer."""
        self.total.fill(0.0)
        self.count = 0


class Rows:
    """The round's steps as rows of a preallocated [capacity, P] float32 matrix (doubling)."""

    def __init__(self, size: int, capacity: int = 16) -> None:
        self._matrix = np.empty((max(1, capacity), size), np.float32)
        self.count = 0

    @property
    def matrix(self) -> np.ndarray:
        """The held rows (a view)."""
        return self._matrix[: self.count]

    def add(self, step: np.ndarray) -> None:
        """Copy one flat step into the next row (amortised O(P))."""
        if self.count == self._matrix.shape[0]:
            grown = np.empty((2 * self.count, self._matrix.shape[1]), np.float32)
            grown[: self.count] = self._matrix
            self._matrix = grown
        self._matrix[self.count] = step
        self.count += 1

    def reset(self) -> None:
        """Start a new round, keeping the capacity."""
        self.count = 0
