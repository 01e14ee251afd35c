"""Columnar batches of sensor readings (`Readings`) and what a reader made of its input (`ReadStats`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CHANNELS", "ReadStats", "Readings"]

CHANNELS: tuple[str, ...] = ("temperature", "humidity", "light", "voltage")


@dataclass(frozen=True)
class Readings:
    """A columnar batch of readings from any source; row i is one reading of one device.

    `device` holds str ids (dtype object), `time` float64 unix seconds (row index when the
    source has no time), `values` float32 [n, len(features)] with NaN for a missing value,
    `label` int8 0/1 ground truth or None, `fault` the fault type per row ("" = healthy) or None.
    """

    device: np.ndarray
    time: np.ndarray
    values: np.ndarray
    features: tuple[str, ...]
    label: np.ndarray | None = None
    fault: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.device)
        if self.device.ndim != 1 or self.time.shape != (n,):
            raise ValueError(
                f"device and time must be 1-D of equal length, got {n} and {self.time.shape}"
            )
        if self.values.shape != (n, len(self.features)):
            raise ValueError(
                f"values must have shape ({n}, {len(self.features)}), got {self.values.shape}"
            )
        for name, column in (("label", self.label), ("fault", self.fault)):
            if column is not None and column.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {column.shape}")

    def __len__(self) -> int:
        return len(self.device)

    def take(self, idx: np.ndarray) -> Readings:
        """The rows at `idx` (integer indices or a boolean mask), in that order."""
        return Readings(
            device=self.device[idx],
            time=self.time[idx],
            values=self.values[idx],
            features=self.features,
            label=None if self.label is None else self.label[idx],
            fault=None if self.fault is None else self.fault[idx],
        )

    def sorted_by_time(self) -> Readings:
        """The same rows ordered by time, ties by device id (stable: equal keys keep their order)."""
        order = np.lexsort((self.device.astype(str), self.time))
        return self.take(order)

    def devices(self) -> list[str]:
        """The distinct device ids, sorted numerically when they all are numbers."""
        ids = {str(d) for d in self.device}
        return sorted(ids, key=lambda d: (0, int(d), d) if d.isdigit() else (1, 0, d))

    @staticmethod
    def empty(features: Sequence[str] = CHANNELS, labelled: bool = False) -> Readings:
        """A batch with no rows."""
        return Readings(
            device=np.empty(0, dtype=object),
            time=np.empty(0, dtype=np.float64),
            values=np.empty((0, len(features)), dtype=np.float32),
            features=tuple(features),
            label=np.empty(0, dtype=np.int8) if labelled else None,
            fault=np.empty(0, dtype=object) if labelled else None,
        )

    @staticmethod
    def concat(parts: Sequence[Readings]) -> Readings:
        """Rows of `parts` one after the other; all parts must share features and labelling."""
        if not parts:
            raise ValueError("concat needs at least one Readings")
        features = parts[0].features
        labelled = parts[0].label is not None
        for part in parts:
            if part.features != features:
                raise ValueError(f"cannot concat features {part.features} with {features}")
            if (part.label is not None) != labelled:
                raise ValueError("cannot concat labelled with unlabelled readings")
        return Readings(
            device=np.concatenate([p.device for p in parts]),
            time=np.concatenate([p.time for p in parts]),
            values=np.concatenate([p.values for p in parts]),
            features=features,
            label=np.concatenate([p.label for p in parts if p.label is not None])
            if labelled
            else None,
            fault=np.concatenate([p.fault for p in parts if p.fault is not None])
            if labelled
            else None,
        )


@dataclass
class ReadStats:
    """What a reader made of its input: every input row is either valid or rejected for a reason."""

    rows_total: int = 0
    rows_valid: int = 0
    rows_rejected: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str, count: int = 1) -> None:
        """Count `count` rows rejected for `reason`."""
        if count:
            self.rows_rejected[reason] = self.rows_rejected.get(reason, 0) + count

    @property
    def rejected_total(self) -> int:
        """All rejected rows, whatever the reason."""
        return sum(self.rows_rejected.values())
