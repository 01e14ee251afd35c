"""The trainer's durable state on MongoDB / FerretDB: per-partition checkpoints, results, anomalies."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bson.binary import Binary
from pymongo import DESCENDING
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, PyMongoError

from flead.mongo import open_database

__all__ = ["Checkpoint", "TrainerStore", "anomaly_id"]


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


def _insert_replacing(coll: Collection[dict[str, Any]], docs: Sequence[dict[str, Any]]) -> None:
    """Insert; a document whose _id exists replaces it (delete + insert: FerretDB replaces slowly)."""
    try:
        coll.insert_many(list(docs), ordered=False)
    except BulkWriteError as exc:
        dup = {e["index"] for e in exc.details.get("writeErrors", []) if e.get("code") == 11000}
        if len(dup) != len(exc.details.get("writeErrors", [])):
            raise
        for i in sorted(dup):
            coll.delete_one({"_id": docs[i]["_id"]})
            coll.insert_one(docs[i])


def _insert_ignoring(coll: Collection[dict[str, Any]], docs: Sequence[dict[str, Any]]) -> None:
    """Insert; a document whose _id exists is kept (a replayed anomaly is the same anomaly)."""
    try:
        coll.insert_many(list(docs), ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
            raise


class TrainerStore:
    """Collections `checkpoints.<topic>.<partition>`, `results` and `anomalies`; insert-only writes.

    A checkpoint is one document (_id = next offset) in its partition's own small collection; the
    newest wins and older ones are pruned now and then. Insert-only keeps FerretDB fast (it
    scans collections and replaces large binary documents slowly) and each checkpoint atomic
    without transactions.
    """

    def __init__(self, uri: str, database: str, *, timeout_ms: int = 5000) -> None:
        self.db = open_database(uri, database, timeout_ms=timeout_ms)
        self.client = self.db.client
        self.checkpoints = self.db["checkpoints"]
        self.results = self.db["results"]
        self.anomalies = self.db["anomalies"]
        self.latest: dict[int, int] = {}

    def _ckpt(self, topic: str, partition: int) -> Collection[dict[str, Any]]:
        return self.db[f"checkpoints.{topic}.{partition}"]

    def load(self, topic: str, partitions: Sequence[int]) -> dict[int, Checkpoint]:
        """The newest checkpoint of each of these partitions that has one."""
        out = {}
        for p in partitions:
            doc = self._ckpt(topic, p).find_one({}, sort=[("_id", DESCENDING)])
            if doc is None:
                continue
            states = {str(e["device"]): bytes(e["state"]) for e in doc.get("devices", [])}
            out[p] = Checkpoint(p, int(doc["_id"]), states, int(doc.get("global_version", 0)))
            self.latest[p] = int(doc["_id"])
        return out

    def save(self, topic: str, checkpoints: Iterable[Checkpoint]) -> None:
        """One new document per partition: states and next offset together (atomic per partition)."""
        for c in checkpoints:
            doc = {
                "_id": c.next_offset,
                "topic": topic,
                "partition": c.partition,
                "global_version": c.global_version,
                "devices": [{"device": d, "state": Binary(s)} for d, s in sorted(c.states.items())],
                "updated_at": time.time(),
            }
            _insert_replacing(self._ckpt(topic, c.partition), [doc])
            self.latest[c.partition] = c.next_offset

    def prune(self, topic: str) -> None:
        """Delete checkpoints older than the newest of their partition."""
        for p, newest in self.latest.items():
            self._ckpt(topic, p).delete_many({"_id": {"$lt": newest}})

    def write_results(self, docs: Sequence[dict[str, Any]]) -> None:
        """Insert per-partition result documents; a replayed interval replaces its own document."""
        if docs:
            _insert_replacing(self.results, docs)

    def write_anomalies(self, docs: Sequence[dict[str, Any]]) -> None:
        """Insert anomalies keyed by (device, time); a replayed one is kept once."""
        if docs:
            _insert_ignoring(
                self.anomalies, [{"_id": anomaly_id(d["device"], d["time"]), **d} for d in docs]
            )

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            self.client.admin.command("ping")
        except PyMongoError:
            return False
        return True

    def close(self) -> None:
        """Close the client."""
        self.client.close()
