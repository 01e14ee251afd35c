"""Decoding a micro-batch of raw Kafka records into columns, splitting off dead letters with reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from flead.wire import WireError, parse_reading

__all__ = ["Dead", "Decoded", "Raw", "decode_batch"]


class Raw(NamedTuple):
    """What the trainer needs of one Kafka record."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Dead(NamedTuple):
    """A record that cannot be processed, and why (a flead.wire reason)."""

    raw: Raw
    reason: str


@dataclass
class Decoded:
    """The valid rows of a batch as columns, plus the dead letters."""

    device: np.ndarray
    time: np.ndarray
    values: np.ndarray
    partition: np.ndarray
    offset: np.ndarray
    dead: list[Dead] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.device)

    def rows(self, keep: np.ndarray) -> Decoded:
        """Only the rows where `keep` is True (dead letters unchanged)."""
        return Decoded(
            self.device[keep],
            self.time[keep],
            self.values[keep],
            self.partition[keep],
            self.offset[keep],
            self.dead,
        )


def decode_batch(records: Sequence[Raw], features: Sequence[str]) -> Decoded:
    """Decode every record; a record that fails goes to `dead` with its reason, the rest stay in order.

    Every record goes through `flead.wire.parse_reading`, the one reading decoder, so the trainer
    accepts and rejects exactly what flead.wire does, with the same reasons.
    """
    devices: list[str] = []
    times: list[float] = []
    rows: list[list[float]] = []
    keep: list[int] = []
    dead: list[Dead] = []
    for i, r in enumerate(records):
        if r.value is None:
            dead.append(Dead(r, "empty_value"))
            continue
        try:
            reading = parse_reading(r.value, features)
        except WireError as exc:
            dead.append(Dead(r, exc.reason))
            continue
        devices.append(reading.device)
        times.append(reading.time)
        rows.append(reading.values)
        keep.append(i)
    n = len(keep)
    return Decoded(
        device=np.array(devices, dtype=object),
        time=np.array(times, dtype=np.float64),
        values=np.array(rows, dtype=np.float32).reshape(n, len(features)),
        partition=np.array([records[i].partition for i in keep], dtype=np.int64),
        offset=np.array([records[i].offset for i in keep], dtype=np.int64),
        dead=dead,
    )
