"""Robust coordinate-wise and distance-based rules over a [K, P] matrix of stacked updates."""

from __future__ import annotations

import numpy as np

__all__ = ["krum_rows", "median_rows", "trimmed_mean_rows"]


def median_rows(matrix: np.ndarray) -> np.ndarray:
    """Coordinate-wise median of the rows of a [K, P] matrix (mean of the middle two if K even)."""
    result: np.ndarray = np.median(matrix, axis=0).astype(np.float32)
    return result


def trimmed_mean_rows(matrix: np.ndarray, beta: float) -> np.ndarray:
    """Coordinate-wise mean of the rows after dropping floor(beta*K) rows from each end."""
    if not 0.0 <= beta < 0.5:
        raise ValueError("beta must be in [0, 0.5)")
    k = matrix.shape[0]
    cut = int(beta * k)
    if cut == 0:
        return matrix.mean(axis=0, dtype=np.float64).astype(np.float32)
    part = np.partition(matrix, (cut, k - cut - 1), axis=0)
    result: np.ndarray = part[cut : k - cut].mean(axis=0, dtype=np.float64).astype(np.float32)
    return result


def krum_rows(matrix: np.ndarray, num_byzantine: int, multi: int = 1) -> np.ndarray:
    """(Multi-)Krum over the rows of [K, P]: mean of the `multi` rows with the smallest sum of
    squared distances to their K - f - 2 nearest other rows."""
    k = matrix.shape[0]
    if num_byzantine < 0 or k - num_byzantine - 2 < 1 or not 1 <= multi <= k:
        raise ValueError("krum needs f >= 0, K - f - 2 >= 1 and 1 <= multi <= K")
    m64 = matrix.astype(np.float64)
    sq = np.einsum("ij,ij->i", m64, m64)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (m64 @ m64.T), 0.0)
    np.fill_diagonal(dist, np.inf)
    nearest = np.sort(dist, axis=1)[:, : k - num_byzantine - 2]
    chosen = np.argsort(nearest.sum(axis=1), kind="stable")[:multi]
    result: np.ndarray = m64[chosen].mean(axis=0).astype(np.float32)
    return result
