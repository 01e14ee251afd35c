"""Pure micro-batch bookkeeping: offsets per partition, durable result documents, anomaly records."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from flead_trainer.decode import Decoded, Raw

__all__ = [
    "anomaly_docs",
    "first_offsets",
    "merge_results",
    "next_offsets",
    "result_docs",
]


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
