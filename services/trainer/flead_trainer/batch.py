"""Pure micro-batch logic: decode raw records, split off dead letters, build durable result documents."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from flead.wire import WireError, decode_reading

__all__ = [
    "Dead",
    "Decoded",
    "Raw",
    "anomaly_docs",
    "decode_batch",
    "first_offsets",
    "merge_results",
    "next_offsets",
    "result_docs",
]


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


def next_offsets(records: Sequence[Raw]) -> dict[int, int]:
    """Per partition, the offset after the last record seen (what to commit)."""
    out: dict[int, int] = {}
    for r in records:
        out[r.partition] = max(out.get(r.partition, -1), r.offset + 1)
    return out


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def result_docs(
    topic: str,
    d: Decoded,
    first: dict[int, int],
    score: np.ndarray,
    threshold: np.ndarray,
    anomaly: np.ndarray,
    version: int,
) -> list[dict[str, Any]]:
    """One result document per partition, keyed by (topic, partition, first offset of the batch).

    `first` holds each partition's first offset in the batch (valid or not), so a batch replayed
    after a crash starts at the same key and replaces the document instead of adding one.
    """
    docs = []
    for p in sorted(first):
        rows = np.flatnonzero(d.partition == p)
        docs.append(
            {
                "_id": f"{topic}:{p}:{first[p]}",
                "topic": topic,
                "partition": int(p),
                "first_offset": int(first[p]),
                "offsets": d.offset[rows].tolist(),
                "devices": [str(x) for x in d.device[rows]],
                "times": d.time[rows].tolist(),
                "scores": [_num(x) for x in score[rows].tolist()],
                "thresholds": [_num(x) for x in threshold[rows].tolist()],
                "anomalies": anomaly[rows].astype(bool).tolist(),
                "model_version": int(version),
            }
        )
    return docs


def anomaly_docs(
    d: Decoded, score: np.ndarray, threshold: np.ndarray, anomaly: np.ndarray, version: int
) -> list[dict[str, Any]]:
    """The flagged rows as {device, time, score, threshold, model_version} (the topic's schema)."""
    return [
        {
            "device": str(d.device[i]),
            "time": float(d.time[i]),
            "score": _num(float(score[i])),
            "threshold": _num(float(threshold[i])),
            "model_version": int(version),
        }
        for i in np.flatnonzero(anomaly)
    ]


def merge_results(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One partition's consecutive batch documents as one, keyed by the first batch's key."""
    if not docs:
        raise ValueError("nothing to merge")
    out = dict(docs[0])
    for name in ("offsets", "devices", "times", "scores", "thresholds", "anomalies"):
        out[name] = [x for d in docs for x in d[name]]
    out["model_version"] = docs[-1]["model_version"]
    return out


def first_offsets(records: Sequence[Raw]) -> dict[int, int]:
    """Per partition, the first offset of the batch."""
    out: dict[int, int] = {}
    for r in records:
        if r.partition not in out:
            out[r.partition] = r.offset
    return out
