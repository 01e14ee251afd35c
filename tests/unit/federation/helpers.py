"""Random model updates and comparison helpers shared by the federation tests."""

from __future__ import annotations

import numpy as np

SHAPES = [(6, 4), (4,), (4, 3), (3,), ()]


def random_results(
    rng: np.random.Generator, k: int, shapes: list[tuple[int, ...]] = SHAPES, scale: float = 1.0
) -> list[tuple[list[np.ndarray], int]]:
    """k updates of float32 arrays with the given shapes and random sample counts."""
    return [
        (
            [(scale * rng.standard_normal(s)).astype(np.float32) for s in shapes],
            int(rng.integers(1, 500)),
        )
        for _ in range(k)
    ]


def concat(arrays: list[np.ndarray]) -> np.ndarray:
    """All arrays as one float64 vector, for comparisons."""
    return np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])
