"""Pure micro-batch bookkeeping: offsets per partition, durable result documents, anomaly records."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import chain
from operator import attrgetter
from typing import Any, NamedTuple

import numpy as np

from flead_trainer.decode import Decoded, Raw

__all__ = [
    "DeviceSummary",
    "anomaly_docs",
    "first_offsets",
    "last_partitions",
    "merge_results",
    "next_offsets",
    "result_docs",
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


def _nums(x: np.ndarray) -> list[float | None]:
    """Floats as a list, NaN/inf as None (MongoDB documents and JSON hold no NaN), in C."""
    out = x.astype(np.float64).astype(object)
    out[~np.isfinite(x)] = None
    values: list[float | None] = out.tolist()
    return values


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
                "devices": d.device[rows].tolist(),
                "times": d.time[rows].tolist(),
                "scores": _nums(score[rows]),
                "thresholds": _nums(threshold[rows]),
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
        out[name] = list(chain.from_iterable(d[name] for d in docs))
    out["model_version"] = docs[-1]["model_version"]
    return out


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
