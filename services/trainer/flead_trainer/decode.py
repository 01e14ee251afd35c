"""Decoding a micro-batch of raw Kafka records into columns, splitting off dead letters with reasons."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from flead.wire import WireError, decode_reading

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


def _nan(_: str) -> float:
    return math.nan


_DECODER = json.JSONDecoder(parse_constant=_nan)


def _fast(raw: bytes, features: Sequence[str]) -> tuple[str, float, list[float]] | None:
    """The common well-formed reading, decoded with one shared decoder; None = ask flead.wire."""
    try:
        doc = _DECODER.decode(raw.decode("utf-8"))
        device, t, values = doc["device"], doc["time"], doc["values"]
    except (ValueError, TypeError, KeyError):
        return None
    if type(device) is not str or not device or type(values) is not dict:
        return None
    if (type(t) is not float and type(t) is not int) or not math.isfinite(t):
        return None
    row = []
    for name in features:
        v = values.get(name)
        if v is None:
            row.append(math.nan)
        elif (type(v) is float or type(v) is int) and math.isfinite(v):
            row.append(float(v))
        else:
            return None
    return device, float(t), row


def decode_batch(records: Sequence[Raw], features: Sequence[str]) -> Decoded:
    """Decode every record; a record that fails goes to `dead` with its reason, the rest stay in order.

    Well-formed readings take a fast path; anything else is decoded by `flead.wire.decode_reading`,
    which either accepts it (same result) or names the reason.
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
        fast = _fast(r.value, features)
        if fast is None:
            try:
                device, t, values = decode_reading(r.value, features)
            except WireError as exc:
                dead.append(Dead(r, exc.reason))
                continue
            fast = (device, t, values.tolist())
        devices.append(fast[0])
        times.append(fast[1])
        rows.append(fast[2])
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
