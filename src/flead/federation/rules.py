"""Aggregation rules as pure functions over model updates (list[np.ndarray], float32)."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from operator import itemgetter

import numpy as np

from flead.federation.flat import gather_layer, shapes_of, stack, unflatten
from flead.federation.robust import krum_rows, median_rows, trimmed_mean_rows
from flead.federation.updates import (
    clip_by_norm,
    fedprox_gradient_term,
    fedprox_penalty,
    global_norm,
    staleness_weight,
)

__all__ = [
    "Results",
    "clip_by_norm",
    "coordinate_median",
    "fedavg",
    "fedavg_stacked",
    "fedprox_gradient_term",
    "fedprox_penalty",
    "global_norm",
    "krum",
    "sample_fractions",
    "staleness_weight",
    "trimmed_mean",
]

Results = Sequence[tuple[Sequence[np.ndarray], int]]

# Rows of one layer gathered per step: bounds the scratch block (~2 MiB) so it stays in cache.
_BLOCK_BYTES = 2 << 20


def sample_fractions(counts: Sequence[int] | np.ndarray) -> np.ndarray:
    """Sample counts -> float32 weights summing to 1; counts must be >= 0 with a positive sum."""
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1 or (c < 0).any() or not c.sum() > 0:
        raise ValueError("sample counts must be >= 0 and sum to > 0")
    fractions: np.ndarray = (c / c.sum()).astype(np.float32)
    return fractions


def fedavg(results: Results) -> list[np.ndarray]:
    """FedAvg: the mean of the updates weighted by their sample counts (Flower's `aggregate`).

    Each layer is gathered a cache-sized block of updates at a time and reduced with one
    single-threaded einsum (no BLAS thread wake-ups per block), so the inputs are read once and
    Python runs per layer, not per array.
    """
    if not results:
        raise ValueError("no updates to aggregate")
    k = len(results)
    fractions = sample_fractions(np.fromiter(map(itemgetter(1), results), np.float64, count=k))
    weights = list(map(itemgetter(0), results))
    shapes = shapes_of(weights[0])
    if set(map(len, weights)) != {len(shapes)}:
        bad = next(i for i, w in enumerate(weights) if len(w) != len(shapes))
        raise ValueError(f"update {bad}: {len(weights[bad])} arrays, expected {len(shapes)}")
    out: list[np.ndarray] = []
    for j, shape in enumerate(shapes):
        n = max(1, prod(shape))
        rows = max(2, min(k, _BLOCK_BYTES // (4 * n)))
        block = np.empty((rows, n), np.float32)
        layer = list(map(itemgetter(j), weights))
        total = np.zeros(n, np.float64)
        for start in range(0, k, rows):
            stop = min(k, start + rows)
            gather_layer(layer[start:stop], shape, block)
            total += np.einsum("k,kp->p", fractions[start:stop], block[: stop - start])
        out.append(total.astype(np.float32).reshape(shape))
    return out


def fedavg_stacked(
    layers: Sequence[np.ndarray], samples: Sequence[int] | np.ndarray
) -> list[np.ndarray]:
    """FedAvg of K updates held stacked per layer ([K, *shape] arrays, as a DeviceBank keeps them).

    One matrix-vector product per layer: no per-update Python work at all.
    """
    fractions = sample_fractions(samples)
    k = fractions.size
    out: list[np.ndarray] = []
    for j, layer in enumerate(layers):
        if layer.shape[:1] != (k,):
            raise ValueError(f"layer {j}: leading dimension {layer.shape[:1]}, expected ({k},)")
        flat = np.asarray(layer, np.float32).reshape(k, -1)
        out.append((fractions @ flat).astype(np.float32).reshape(layer.shape[1:]))
    return out


def coordinate_median(results: Results) -> list[np.ndarray]:
    """Coordinate-wise median of the updates (sample counts ignored): robust to f < K/2 outliers."""
    matrix, shapes = stack(results)
    return unflatten(median_rows(matrix), shapes)


def trimmed_mean(results: Results, beta: float) -> list[np.ndarray]:
    """Coordinate-wise trimmed mean: drops the beta fraction of largest and of smallest values."""
    matrix, shapes = stack(results)
    return unflatten(trimmed_mean_rows(matrix, beta), shapes)


def krum(results: Results, num_byzantine: int, multi: int = 1) -> list[np.ndarray]:
    """(Multi-)Krum: mean of the `multi` updates closest to their K - f - 2 nearest neighbours."""
    matrix, shapes = stack(results)
    return unflatten(krum_rows(matrix, num_byzantine, multi), shapes)
