"""Pure planning of a produce run: partitions, pacing, time shifts between loops, record encoding."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from flead.partitioning import partition_for
from flead.wire import encode_reading

__all__ = [
    "due_times",
    "encode_label",
    "encode_row",
    "loop_shift",
    "parse_partition_map",
    "partitions_of",
]


def parse_partition_map(text: str, partitions: int) -> dict[str, int]:
    """`"12=3,7=0"` -> {"12": 3, "7": 0}; ValueError naming the bad pair."""
    out: dict[str, int] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        device, sep, part = pair.partition("=")
        if not sep or not device.strip() or not part.strip().isdigit():
            raise ValueError(f"partition map entry {pair!r} is not device=partition")
        number = int(part)
        if number >= partitions:
            raise ValueError(f"partition map entry {pair!r}: only {partitions} partitions")
        out[device.strip()] = number
    return out


def partitions_of(
    devices: Sequence[str], partitions: int, overrides: dict[str, int]
) -> dict[str, int]:
    """Partition of every distinct device: the override, else Kafka's murmur2 of the id."""
    return {d: overrides.get(d, partition_for(d, partitions)) for d in sorted(set(devices))}


def due_times(times: np.ndarray, rate: float, speed: float) -> np.ndarray:
    """Seconds after the start at which each row is due (rate limit and/or N x real-time replay).

    rate > 0: row i no earlier than i / rate.  speed > 0: no earlier than (t_i - t_0) / speed.
    Both: the later of the two.  Neither: all zeros (as fast as Kafka takes them).
    """
    n = len(times)
    due = np.zeros(n, dtype=np.float64)
    if rate > 0:
        due = np.arange(n, dtype=np.float64) / rate
    if speed > 0 and n:
        replay = (np.asarray(times, np.float64) - float(times[0])) / speed
        due = np.maximum(due, replay)
    return due


def loop_shift(times: np.ndarray, loop_index: int) -> float:
    """Seconds added to every time of the loop_index-th pass, so (device, time) stays unique."""
    if loop_index == 0 or len(times) == 0:
        return 0.0
    span = float(np.max(times) - np.min(times))
    gap = 1.0 if len(times) < 2 else max(1.0, span / len(times))
    return loop_index * (span + gap)


def encode_row(device: str, time: float, values: np.ndarray, features: Sequence[str]) -> bytes:
    """The JSON value of one reading (NaN -> null)."""
    return encode_reading(
        device, time, {f: float(v) for f, v in zip(features, values, strict=True)}
    )


def encode_label(device: str, time: float, label: int, fault: str) -> bytes:
    """The JSON value of one ground-truth label."""
    doc = {"device": device, "time": float(time), "label": int(label), "fault": fault}
    return json.dumps(doc, separators=(",", ":")).encode()
