"""Incremental round aggregation: O(model size) per accepted update, no re-read at round close."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import numpy as np

from flead.federation.flat import Shapes, size_of, unflatten
from flead.federation.robust import krum_rows, median_rows, trimmed_mean_rows

__all__ = ["ROBUST_RULES", "RobustRoundBuffer", "RoundAccumulator"]

ROBUST_RULES = ("fedavg", "median", "trimmed_mean", "krum")


def _check(weights: Sequence[np.ndarray], shapes: Shapes, samples: int) -> None:
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    try:
        got = [a.shape for a in weights]
    except AttributeError:
        got = [np.shape(a) for a in weights]
    if got == shapes:
        return
    if len(got) != len(shapes):
        raise ValueError(f"{len(got)} arrays, expected {len(shapes)}")
    i = next(i for i, (g, s) in enumerate(zip(got, shapes, strict=True)) if g != s)
    raise ValueError(f"array {i}: shape {got[i]}, expected {shapes[i]}")


class RoundAccumulator:
    """Running sample-weighted sum of one synchronous round's updates (FedAvg, incrementally).

    `add` copies the update into a small cache-sized staging block; every `rows` updates the
    block is folded into a float64 running sum with one einsum (a weighted row sum). `close`
    folds the rest and divides: each update is read once at `add` and once from the block,
    never again.
    """

    def __init__(self, shapes: Sequence[Sequence[int]], *, staging_bytes: int = 2 << 20) -> None:
        self.shapes: Shapes = [tuple(int(d) for d in s) for s in shapes]
        self.size = size_of(self.shapes)
        self._rows = max(2, min(512, staging_bytes // max(1, 4 * self.size)))
        self._stage = np.empty((self._rows, self.size), np.float32)
        self._counts = np.empty(self._rows, np.float32)
        self._sum = np.zeros(self.size, np.float64)
        self._staged = 0
        self.participants = 0
        self.samples = 0

    def add(self, weights: Sequence[np.ndarray], samples: int) -> None:
        """Accept one update (full weights, or a delta) trained on `samples` samples."""
        _check(weights, self.shapes, samples)
        if weights:
            row = self._stage[self._staged]
            np.concatenate(weights, axis=None, out=row, casting="same_kind")
        self._counts[self._staged] = samples
        self._staged += 1
        self.participants += 1
        self.samples += int(samples)
        if self._staged == self._rows:
            self._fold()

    def add_many(self, layers: Sequence[np.ndarray], samples: Sequence[int] | np.ndarray) -> None:
        """Accept K updates held stacked per layer ([K, *shape], as a DeviceBank keeps them)."""
        counts = np.asarray(samples, dtype=np.int64).reshape(-1)
        k = counts.size
        if k == 0:
            return
        if (counts < 1).any():
            raise ValueError("samples must be >= 1")
        got = [tuple(np.shape(a)) for a in layers]
        if got != [(k, *s) for s in self.shapes]:
            raise ValueError(f"stacked shapes {got}, expected [K={k}, *shape] for {self.shapes}")
        self._fold()
        weights = counts.astype(np.float32)
        offset = 0
        for layer, shape in zip(layers, self.shapes, strict=True):
            n = prod(shape)
            flat = np.asarray(layer, np.float32).reshape(k, n)
            self._sum[offset : offset + n] += weights @ flat
            offset += n
        self.participants += k
        self.samples += int(counts.sum())

    def _fold(self) -> None:
        n = self._staged
        if n:
            self._sum += np.einsum("k,kp->p", self._counts[:n], self._stage[:n])
            self._staged = 0

    def close(self) -> list[np.ndarray]:
        """The sample-weighted mean of everything added so far (float32 arrays)."""
        if self.samples == 0:
            raise ValueError("no updates in this round")
        self._fold()
        return unflatten((self._sum / self.samples).astype(np.float32), self.shapes)

    def reset(self) -> None:
        """Start a new round, reusing the buffers."""
        self._sum.fill(0.0)
        self._staged = 0
        self.participants = 0
        self.samples = 0


class RobustRoundBuffer:
    """Keeps a round's updates in a preallocated [max_updates, P] matrix for robust rules."""

    def __init__(self, shapes: Sequence[Sequence[int]], max_updates: int) -> None:
        if max_updates < 1:
            raise ValueError("max_updates must be >= 1")
        self.shapes: Shapes = [tuple(int(d) for d in s) for s in shapes]
        self.size = size_of(self.shapes)
        self._matrix = np.empty((max_updates, self.size), np.float32)
        self._counts = np.zeros(max_updates, np.int64)
        self.participants = 0

    @property
    def capacity(self) -> int:
        """Most updates one round can hold."""
        return int(self._matrix.shape[0])

    @property
    def samples(self) -> int:
        """Total samples behind the updates held."""
        return int(self._counts[: self.participants].sum())

    @property
    def matrix(self) -> np.ndarray:
        """The held updates, one flattened update per row (a view)."""
        return self._matrix[: self.participants]

    def add(self, weights: Sequence[np.ndarray], samples: int) -> None:
        """Store one update; raises ValueError when the round is full."""
        _check(weights, self.shapes, samples)
        if self.participants == self.capacity:
            raise ValueError(f"round is full ({self.capacity} updates)")
        if weights:
            row = self._matrix[self.participants]
            np.concatenate(weights, axis=None, out=row, casting="same_kind")
        self._counts[self.participants] = samples
        self.participants += 1

    def aggregate(
        self, rule: str = "median", *, beta: float = 0.1, num_byzantine: int = 0, multi: int = 1
    ) -> list[np.ndarray]:
        """Aggregate the held updates with fedavg | median | trimmed_mean (beta) | krum (f, multi)."""
        if self.participants == 0:
            raise ValueError("no updates in this round")
        m = self.matrix
        if rule == "fedavg":
            counts = self._counts[: self.participants].astype(np.float64)
            flat = ((counts / counts.sum()) @ m).astype(np.float32)
        elif rule == "median":
            flat = median_rows(m)
        elif rule == "trimmed_mean":
            flat = trimmed_mean_rows(m, beta)
        elif rule == "krum":
            flat = krum_rows(m, num_byzantine, multi)
        else:
            raise ValueError(f"unknown rule {rule!r} (one of {', '.join(ROBUST_RULES)})")
        return unflatten(flat, self.shapes)

    def reset(self) -> None:
        """Start a new round, reusing the matrix."""
        self._counts.fill(0)
        self.participants = 0
