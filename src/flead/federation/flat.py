"""Flat views of model tensors: flatten to one float32 vector and back."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import numpy as np

__all__ = ["Shapes", "flatten", "shapes_of", "size_of", "unflatten"]

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
