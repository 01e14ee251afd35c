"""Pure micro-batch bookkeeping: offsets per partition, durable result documents, anomaly records."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from operator import attrgetter
from typing import Any, NamedTuple

import numpy as np
from bson.binary import Binary

from flead_trainer.decode import Decoded, Raw

__all__ = [
    "RESULTS_FORMAT",
    "DeviceSummary",
    "ResultColumns",
    "anomaly_docs",
    "batch_results",
    "first_offsets",
    "last_partitions",
    "merge_results",
    "next_offsets",
    "read_results",
    "result_document",
    "summarize",
]

_PARTITION = attrgetter("partition")
_OFFSET = attrgetter("offset")


def _columns(records: Sequence[Raw]) -> tuple[np.ndarray, np.ndarray]:
    n = len(records)
    return (
        np.fromiter(map(_PARTITION, records), np.int64, n),
        np.fromiter(map(_OFFSET, records), np.int64, n),
    )


def next_offsets(records: Sequence[Raw]) -> dict[int, int]:
    """Per partition, the offset after the last record seen (what to commit)."""
    partitions, offsets = _columns(records)
    return {int(p): int(offsets[partitions == p].max()) + 1 for p in np.unique(partitions).tolist()}


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


class ResultColumns(NamedTuple):
    """Every reading's durable result in one partition's interval, as columns (input order)."""

    partition: int
    first_offset: int  # of the interval's first batch (dead records included): the replay key
    offsets: np.ndarray  # int64
    devices: np.ndarray  # object (str)
    times: np.ndarray  # float64
    scores: np.ndarray  # float32, NaN where not scored
    thresholds: np.ndarray  # float32, +inf while a device warms up
    anomalies: np.ndarray  # bool
    model_version: int


def batch_results(
    d: Decoded,
    first: dict[int, int],
    score: np.ndarray,
    threshold: np.ndarray,
    anomaly: np.ndarray,
    version: int,
) -> list[ResultColumns]:
    """One `ResultColumns` per partition of the batch (`first`: each partition's first offset in
    the batch, valid or not, so a batch replayed after a crash starts at the same key)."""
    out = []
    for p in sorted(first):
        rows = np.flatnonzero(d.partition == p)
        part = ResultColumns(
            int(p), int(first[p]), d.offset[rows].astype(np.int64), d.device[rows],
            d.time[rows].astype(np.float64), score[rows].astype(np.float32),
            threshold[rows].astype(np.float32), anomaly[rows].astype(bool), int(version),
        )  # fmt: skip
        out.append(part)
    return out


def merge_results(parts: Sequence[ResultColumns]) -> ResultColumns:
    """One partition's consecutive batches as one interval, keyed by the first batch."""
    if not parts:
        raise ValueError("nothing to merge")
    columns = {name: np.concatenate([getattr(c, name) for c in parts]) for name in _COLUMNS}
    return parts[0]._replace(**columns, model_version=parts[-1].model_version)


_COLUMNS = ("offsets", "devices", "times", "scores", "thresholds", "anomalies")
_DTYPES = {"offsets": "<i8", "times": "<f8", "scores": "<f4", "thresholds": "<f4"}
RESULTS_FORMAT = 2  # binary little-endian columns (format 1: one BSON list element per value)


def result_document(topic: str, c: ResultColumns) -> dict[str, Any]:
    """The interval as one MongoDB document, `_id` = topic:partition:first_offset (a replay
    replaces it). Numbers are binary little-endian columns, NaN and inf kept; device ids are
    `device_names` (sorted, distinct) plus a uint32 `device_index` per reading."""
    names, index = np.unique(c.devices.astype(str), return_inverse=True)
    doc: dict[str, Any] = {
        "_id": f"{topic}:{c.partition}:{c.first_offset}",
        "topic": topic,
        "partition": c.partition,
        "first_offset": c.first_offset,
        "format": RESULTS_FORMAT,
        "count": len(c.offsets),
        "model_version": c.model_version,
        "device_names": names.tolist(),
        "device_index": Binary(index.astype("<u4").tobytes()),
        "anomalies": Binary(np.packbits(c.anomalies, bitorder="little").tobytes()),
    }
    for name, dtype in _DTYPES.items():
        doc[name] = Binary(np.ascontiguousarray(getattr(c, name), dtype=dtype).tobytes())
    return doc


def read_results(doc: dict[str, Any]) -> ResultColumns:
    """Inverse of `result_document` (what a reader of the `results` collection calls)."""
    if doc.get("format") != RESULTS_FORMAT:
        raise ValueError(f"results document {doc.get('_id')!r}: format {doc.get('format')!r}, "
                         f"expected {RESULTS_FORMAT}")  # fmt: skip
    n = int(doc["count"])
    names = np.array(doc["device_names"], dtype=object)
    index = np.frombuffer(doc["device_index"], "<u4")
    bits = np.unpackbits(np.frombuffer(doc["anomalies"], np.uint8), count=n, bitorder="little")
    columns = {name: np.frombuffer(doc[name], dtype) for name, dtype in _DTYPES.items()}
    return ResultColumns(
        int(doc["partition"]), int(doc["first_offset"]), columns["offsets"].astype(np.int64),
        names[index], columns["times"].astype(np.float64),
        columns["scores"].astype(np.float32), columns["thresholds"].astype(np.float32),
        bits.astype(bool), int(doc["model_version"]),
    )  # fmt: skip


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


def first_offsets(records: Sequence[Raw]) -> dict[int, int]:
    """Per partition, the first offset of the batch."""
    partitions, offsets = _columns(records)
    seen, first = np.unique(partitions, return_index=True)
    return dict(zip(seen.tolist(), offsets[first].tolist(), strict=True))


def last_partitions(d: Decoded) -> dict[str, int]:
    """Per device of the batch, the partition of its last row (built in C: no loop per row)."""
    return dict(zip(d.device.tolist(), d.partition.tolist(), strict=True))


class DeviceSummary(NamedTuple):
    """A batch per device: rows, anomalies, and the last row's score and threshold."""

    counts: dict[str, int]
    anomalies: dict[str, int]
    score: dict[str, float]
    threshold: dict[str, float]


def summarize(
    device: np.ndarray, score: np.ndarray, threshold: np.ndarray, anomaly: np.ndarray
) -> DeviceSummary:
    """One entry per distinct device of the batch, computed without a Python step per row."""
    ids: list[str] = device.tolist()
    last = dict(zip(ids, range(len(ids)), strict=True))  # a later row overwrites an earlier
    at = np.fromiter(last.values(), np.int64, len(last))
    return DeviceSummary(
        dict(Counter(ids)),
        dict(Counter(device[np.asarray(anomaly, dtype=bool)].tolist())),
        dict(zip(last, score[at].tolist(), strict=True)),
        dict(zip(last, threshold[at].tolist(), strict=True)),
    )
