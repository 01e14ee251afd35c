"""Flat views of model weights: flatten/unflatten and stacking updates into one [K, P] matrix."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import numpy as np

__all__ = [
    "Shapes",
    "flatten",
    "gather_layer",
    "shapes_of",
    "size_of",
    "stack",
    "unflatten",
]

Shapes = list[tuple[int, ...]]


def shapes_of(weights: Sequence[np.ndarray]) -> Shapes:
    """The shape of every array, in order."""
    return [tuple(int(d) for d in np.shape(a)) for a in weights]


def size_of(shapes: Sequence[Sequence[int]]) -> int:
    """Total number of parameters of a model with these array shapes."""
    return sum(prod(s) for s in shapes)


def flatten(weights: Sequence[np.ndarray]) -> tuple[np.ndarray, Shapes]:
    """One float32 vector holding every array (C order), and the shapes to undo it."""
    shapes = shapes_of(weights)
    if not weights:
        return np.zeros(0, np.float32), shapes
    vector = np.concatenate(weights, axis=None, dtype=np.float32, casting="same_kind")
    return vector, shapes


def unflatten(vector: np.ndarray, shapes: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """Split a flat vector back into float32 arrays of the given shapes (views when possible)."""
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    expected = size_of(shapes)
    if vector.size != expected:
        raise ValueError(f"vector has {vector.size} values, the shapes need {expected}")
    out: list[np.ndarray] = []
    offset = 0
    for shape in shapes:
        n = prod(shape)
        out.append(vector[offset : offset + n].reshape(tuple(shape)))
        offset += n
    return out


def gather_layer(arrays: Sequence[np.ndarray], shape: tuple[int, ...], out: np.ndarray) -> None:
    """Copy len(arrays) arrays, each of `shape`, into the rows of `out` ([n, prod(shape)] float32).

    Raises ValueError naming the first array whose shape differs. Costs one C-level copy: the
    leading dimension is checked with len(), the others by the concatenation itself.
    """
    n = len(arrays)
    if not shape:  # scalars: no axis to concatenate along
        values = np.array(arrays, dtype=np.float32)
        if values.shape != (n,):
            raise ValueError(f"scalar layer expected, got shape {values.shape[1:]}")
        out[:n, 0] = values
        return
    if set(map(len, arrays)) != {shape[0]}:
        _raise_mismatch(arrays, shape)
    try:
        np.concatenate(
            arrays, axis=0, out=out[:n].reshape((n * shape[0], *shape[1:])), casting="same_kind"
        )
    except ValueError:
        _raise_mismatch(arrays, shape)


def _raise_mismatch(arrays: Sequence[np.ndarray], shape: tuple[int, ...]) -> None:
    for i, a in enumerate(arrays):
        if np.shape(a) != shape:
            raise ValueError(f"update {i}: shape {np.shape(a)}, expected {shape}")
    raise ValueError(f"arrays do not match shape {shape}")


def stack(results: Sequence[tuple[Sequence[np.ndarray], int]]) -> tuple[np.ndarray, Shapes]:
    """All updates as one float32 [K, P] matrix (row k = flatten(update k)) and the shapes."""
    if not results:
        raise ValueError("no updates to aggregate")
    shapes = shapes_of(results[0][0])
    k = len(results)
    matrix = np.empty((k, size_of(shapes)), np.float32)
    for i, (weights, _) in enumerate(results):
        if len(weights) != len(shapes):
            raise ValueError(f"update {i}: {len(weights)} arrays, expected {len(shapes)}")
    offset = 0
    for j, shape in enumerate(shapes):
        n = prod(shape)
        block = np.empty((k, n), np.float32)
        gather_layer([w[j] for w, _ in results], shape, block)
        matrix[:, offset : offset + n] = block
        offset += n
    return matrix, shapes
