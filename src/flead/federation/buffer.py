"""FedBuff: asynchronous buffered aggregation with staleness weighting, O(model size) per update."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from flead.federation.flat import flatten, shapes_of, unflatten
from flead.federation.updates import staleness_weight
from flead.federation.validate import UpdateRejected

__all__ = ["FedBuff"]


class FedBuff:
    """Buffered asynchronous aggregation (Nguyen et al., FedBuff), weighted by samples x staleness.

    Each update is a step relative to the global version it started from (`base_version`):
    either a delta (`add_delta`) or the trained weights (`add_weights`, the delta is taken
    against the stored base version -- the last max_staleness + 1 versions are kept). An update
    of staleness s = version - base_version trained on n samples adds n * w(s) * delta to a
    float64 sum; after `buffer_size` updates the global model moves by
    server_lr * sum / (total samples in the buffer) and the version increments. Dividing by the
    samples rather than by sum(n * w(s)) means stale updates shrink the step, not only their share.
    Updates older than max_staleness, or from a future version, raise UpdateRejected("stale").
    """

    def __init__(
        self,
        buffer_size: int,
        *,
        initial: Sequence[np.ndarray],
        server_lr: float = 1.0,
        staleness: str = "polynomial",
        a: float = 0.5,
        max_staleness: int = 8,
        version: int = 0,
    ) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be >= 1")
        if max_staleness < 0:
            raise ValueError("max_staleness must be >= 0")
        if not server_lr > 0:
            raise ValueError("server_lr must be > 0")
        staleness_weight(0, staleness, a)  # rejects an unknown kind early
        self.buffer_size = buffer_size
        self.server_lr = server_lr
        self.staleness_kind = staleness
        self.a = a
        self.max_staleness = max_staleness
        self.shapes = shapes_of(initial)
        flat, _ = flatten(initial)
        self._sum = np.zeros(flat.size, np.float64)
        self._scratch = np.empty(flat.size, np.float32)
        self._history: OrderedDict[int, np.ndarray] = OrderedDict()
        self._set_global(flat, version)
        self.pending = 0
        self.pending_samples = 0

    @property
    def version(self) -> int:
        """Version of the current global model."""
        return self._version

    def weights(self) -> list[np.ndarray]:
        """A copy of the current global model."""
        return unflatten(self._global.copy(), self.shapes)

    def staleness_of(self, base_version: int) -> int:
        """Versions between base_version and now; raises UpdateRejected('stale') beyond limits."""
        s = self._version - base_version
        if s < 0:
            raise UpdateRejected(
                "stale", "base_version", f"{base_version} is newer than {self._version}"
            )
        if s > self.max_staleness:
            raise UpdateRejected(
                "stale", "base_version", f"{s} versions behind, limit {self.max_staleness}"
            )
        return s

    def add_delta(self, delta: Sequence[np.ndarray], samples: int, base_version: int) -> int | None:
        """Buffer a delta (trained - base weights); returns the new version if the model moved."""
        s = self.staleness_of(base_version)
        self._load(delta, samples)
        return self._accumulate(samples, s)

    def add_weights(
        self, weights: Sequence[np.ndarray], samples: int, base_version: int
    ) -> int | None:
        """Buffer trained weights started from base_version; returns the new version if moved."""
        s = self.staleness_of(base_version)
        base = self._history.get(base_version)
        if base is None:
            raise UpdateRejected("stale", "base_version", f"version {base_version} is not kept")
        self._load(weights, samples)
        np.subtract(self._scratch, base, out=self._scratch)
        return self._accumulate(samples, s)

    def flush(self) -> int | None:
        """Apply a partly filled buffer now (e.g. on a timer); returns the new version, if any."""
        if self.pending == 0:
            return None
        step = (self.server_lr / self.pending_samples) * self._sum
        self._set_global((self._global + step).astype(np.float32), self._version + 1)
        self._sum.fill(0.0)
        self.pending = 0
        self.pending_samples = 0
        return self._version

    def reset(self, weights: Sequence[np.ndarray], version: int) -> None:
        """Replace the global model (e.g. a rollback) and drop the buffer and history."""
        if shapes_of(weights) != self.shapes:
            raise ValueError("weights do not match the model's shapes")
        self._history.clear()
        self._sum.fill(0.0)
        self.pending = 0
        self.pending_samples = 0
        self._set_global(flatten(weights)[0], version)

    def remember(self, weights: Sequence[np.ndarray], version: int) -> None:
        """Keep an older global version (e.g. reloaded from the registry after a restart)."""
        if not self._version - self.max_staleness <= version < self._version:
            raise ValueError(f"version {version} is outside the staleness window")
        if shapes_of(weights) != self.shapes:
            raise ValueError("weights do not match the model's shapes")
        self._history[version] = flatten(weights)[0]
        self._history = OrderedDict(sorted(self._history.items()))

    def _load(self, arrays: Sequence[np.ndarray], samples: int) -> None:
        if samples < 1:
            raise UpdateRejected("samples", "samples", f"must be >= 1, got {samples}")
        got = shapes_of(arrays)
        if got != self.shapes:
            raise UpdateRejected("shape", "weights", f"shapes {got}, expected {self.shapes}")
        np.concatenate(arrays, axis=None, out=self._scratch, casting="same_kind")

    def _accumulate(self, samples: int, staleness: int) -> int | None:
        w = samples * staleness_weight(staleness, self.staleness_kind, self.a)
        np.multiply(self._scratch, np.float32(w), out=self._scratch)
        np.add(self._sum, self._scratch, out=self._sum)
        self.pending += 1
        self.pending_samples += int(samples)
        return self.flush() if self.pending >= self.buffer_size else None

    def _set_global(self, flat: np.ndarray, version: int) -> None:
        self._global = np.asarray(flat, np.float32)
        self._version = version
        self._history[version] = self._global
        while len(self._history) > self.max_staleness + 1:
            self._history.popitem(last=False)
