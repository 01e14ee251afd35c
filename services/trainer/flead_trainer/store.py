"""The trainer's durable state on MongoDB / FerretDB: per-partition checkpoints, results, anomalies."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bson.binary import Binary
from pymongo import MongoClient, ReplaceOne, UpdateOne
from pymongo.database import Database

__all__ = ["Checkpoint", "TrainerStore", "anomaly_id", "checkpoint_id"]


def checkpoint_id(topic: str, partition: int) -> str:
    """Checkpoints belong to a partition of the topic, not to a trainer: regrouping keeps them."""
    return f"{topic}:{partition}"


def anomaly_id(device: str, time: float) -> str:
    """Key of an anomaly: (device, time), so a replayed reading upserts the same document."""
    return f"{device}@{time:.6f}"


@dataclass(frozen=True)
class Checkpoint:
    """State of one partition after the last durable batch: next offset, every device's model."""

    partition: int
    next_offset: int
    states: dict[str, bytes]
    global_version: int


class TrainerStore:
    """Collections `checkpoints`, `results` and `anomalies` (all writes idempotent)."""

    def __init__(self, uri: str, database: str, *, timeout_ms: int = 5000) -> None:
        self.client: MongoClient[dict[str, Any]] = MongoClient(
            uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
        )
        self.db: Database[dict[str, Any]] = self.client[database]
        self.checkpoints = self.db["checkpoints"]
        self.results = self.db["results"]
        self.anomalies = self.db["anomalies"]

    def load(self, topic: str, partitions: Sequence[int]) -> dict[int, Checkpoint]:
        """The checkpoints of these partitions that exist."""
        ids = [checkpoint_id(topic, p) for p in partitions]
        out = {}
        for doc in self.checkpoints.find({"_id": {"$in": ids}}):
            states = {str(e["device"]): bytes(e["state"]) for e in doc.get("devices", [])}
            p = int(doc["partition"])
            out[p] = Checkpoint(
                p, int(doc["next_offset"]), states, int(doc.get("global_version", 0))
            )
        return out

    def save(self, topic: str, checkpoints: Iterable[Checkpoint]) -> None:
        """Replace each partition's checkpoint in one document (atomic per partition)."""
        ops = [
            ReplaceOne(
                {"_id": checkpoint_id(topic, c.partition)},
                {
                    "_id": checkpoint_id(topic, c.partition),
                    "topic": topic,
                    "partition": c.partition,
                    "next_offset": c.next_offset,
                    "global_version": c.global_version,
                    "devices": [
                        {"device": d, "state": Binary(s)} for d, s in sorted(c.states.items())
                    ],
                    "updated_at": time.time(),
                },
                upsert=True,
            )
            for c in checkpoints
        ]
        if ops:
            self.checkpoints.bulk_write(ops, ordered=False)

    def write_results(self, docs: Sequence[dict[str, Any]]) -> None:
        """Upsert per-partition result documents by their batch key (a replay replaces its own)."""
        if docs:
            self.results.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs], ordered=False
            )

    def write_anomalies(self, docs: Sequence[dict[str, Any]]) -> None:
        """Upsert anomalies keyed by (device, time)."""
        if docs:
            ops = [
                UpdateOne({"_id": anomaly_id(d["device"], d["time"])}, {"$set": d}, upsert=True)
                for d in docs
            ]
            self.anomalies.bulk_write(ops, ordered=False)

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            self.client.admin.command("ping")
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Close the client."""
        self.client.close()
