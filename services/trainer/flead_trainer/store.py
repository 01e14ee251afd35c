"""The trainer's durable state on MongoDB / FerretDB: per-device checkpoints, results, anomalies."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bson import encode
from bson.binary import Binary
from pymongo import DESCENDING
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError

from flead.logging import get_logger
from flead.mongo import open_database

__all__ = [
    "Checkpoint",
    "Delta",
    "DeviceState",
    "SegmentPlan",
    "TrainerStore",
    "anomaly_id",
    "device_document",
    "device_state",
    "plan_segments",
]


log = get_logger(__name__)
MAX_SKIPPED_GENERATIONS = 8  # stray tables in a row before a checkpoint write gives up


def anomaly_id(device: str, time: float) -> str:
    """Key of an anomaly: (device, time), so a replayed reading upserts the same document."""
    return f"{device}@{time:.6f}"


@dataclass(frozen=True)
class DeviceState:
    """One device's durable state: its model blob plus named opaque parts, stored as one document.

    `model` is `DeviceBank.export_state`; `parts` are bytes the store never looks into (e.g. the
    federation's per-device Participant state). A part name is a BSON key: no `$` start, no `.`.
    """

    model: bytes
    parts: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    """A partition's state after its last durable interval: next offset, every live device."""

    partition: int
    next_offset: int
    devices: dict[str, DeviceState]
    global_version: int


@dataclass(frozen=True)
class Delta:
    """What one interval changed in a partition: devices that changed, devices that left."""

    partition: int
    next_offset: int
    changed: dict[str, DeviceState]
    dropped: frozenset[str]
    global_version: int


def device_document(device: str, state: DeviceState) -> dict[str, Any]:
    """A device's state as one document of a segment (`_id` = device id: unique per segment)."""
    parts = {name: Binary(blob) for name, blob in sorted(state.parts.items())}
    return {"_id": device, "model": Binary(state.model), "parts": parts}


def device_state(doc: Mapping[str, Any]) -> DeviceState:
    """Inverse of `device_document`."""
    return DeviceState(bytes(doc["model"]), {k: bytes(v) for k, v in doc.get("parts", {}).items()})


@dataclass(frozen=True)
class SegmentPlan:
    """How one checkpoint (generation g) changes a partition's segments."""

    where: dict[str, int]  # device -> segment holding its newest state, after this checkpoint
    copy: dict[int, frozenset[str]]  # retired segment -> its devices whose state moves into g
    retire: frozenset[int]  # segments no longer part of the state once the manifest lands


def plan_segments(
    where: Mapping[str, int],
    changed: Iterable[str],
    dropped: Iterable[str],
    generation: int,
    keep: int = 4,
) -> SegmentPlan:
    """Changed devices move to segment `generation`; dropped ones leave. A segment retires when
    no live device is left in it, when it holds a dropped device (its other devices are copied
    into the new segment, so the dropped state cannot come back), or when more than `keep` older
    segments would remain (the oldest go first, their devices copied)."""
    old = where
    new = dict(where)
    gone = {d for d in dropped if d in new}
    for d in gone:
        del new[d]
    for d in changed:
        new[d] = generation
    before = set(old.values()) - {generation}
    live = {s for s in new.values() if s != generation}
    retire = (before - live) | {old[d] for d in gone}
    remaining = sorted(live - retire)
    retire |= set(remaining[: max(0, len(remaining) - keep)])
    copy: dict[int, set[str]] = {}
    for d, seg in new.items():
        if seg in retire:
            copy.setdefault(seg, set()).add(d)
            new[d] = generation
    return SegmentPlan(new, {s: frozenset(v) for s, v in copy.items()}, frozenset(retire))


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
    """Per partition: device states in segment collections `devices.<topic>.<partition>.<g>`, a
    manifest per checkpoint in `manifests.<topic>.<partition>`; plus `results` and `anomalies`.

    Checkpoint g of a partition writes the devices that changed in the interval as segment g (one
    small document per device), then one manifest (`_id = g`: next offset, global version, the
    segments that make up the state). The manifest is the commit point: a segment it does not
    list is an orphan of a write that never finished, or a retired one, and is dropped. No
    document grows with the number of devices, an interval writes only what changed, and nothing
    is ever updated or deleted document by document: FerretDB's SQLite backend scans a collection
    for every delete or replace, but creates and drops a collection in milliseconds.
    """

    def __init__(
        self, uri: str, database: str, *, timeout_ms: int = 5000, keep_segments: int = 4
    ) -> None:
        self.db = open_database(uri, database, timeout_ms=timeout_ms)
        self.client = self.db.client
        self.results = self.db["results"]
        self.anomalies = self.db["anomalies"]
        self.keep_segments = keep_segments
        self.generation: dict[int, int] = {}  # partition -> generation of its newest manifest
        self._where: dict[int, dict[str, int]] = {}  # partition -> device -> segment

    def _manifests(self, topic: str, partition: int) -> Collection[dict[str, Any]]:
        return self.db[f"manifests.{topic}.{partition}"]

    def _segment(self, topic: str, partition: int, generation: int) -> Collection[dict[str, Any]]:
        return self.db[f"devices.{topic}.{partition}.{generation}"]

    def load(self, topic: str, partitions: Sequence[int]) -> dict[int, Checkpoint]:
        """The newest checkpoint of each of these partitions that has one; drops stray segments."""
        out = {}
        names = set(self.db.list_collection_names())
        for p in partitions:
            manifest = self._manifests(topic, p).find_one({}, sort=[("_id", DESCENDING)])
            segments = sorted(int(g) for g in (manifest or {}).get("segments", []))
            prefix = f"devices.{topic}.{p}."
            for name in names:
                rest = name[len(prefix) :]
                if name.startswith(prefix) and rest.isdigit() and int(rest) not in segments:
                    self.db.drop_collection(name)
            self.generation[p] = 0 if manifest is None else int(manifest["_id"])
            where: dict[str, int] = {}
            devices: dict[str, DeviceState] = {}
            for g in segments:  # ascending: a device's newest segment wins
                for doc in self._segment(topic, p, g).find({}):
                    where[str(doc["_id"])] = g
                    devices[str(doc["_id"])] = device_state(doc)
            self._where[p] = where
            if manifest is not None:
                version = int(manifest.get("global_version", 0))
                out[p] = Checkpoint(p, int(manifest["next_offset"]), devices, version)
        return out

    def save(self, topic: str, deltas: Iterable[Delta]) -> int:
        """Per partition: the new segment, then the manifest, then drop retired segments.

        Returns the BSON bytes written (device documents, copied ones included, and manifests).
        Safe to repeat after a failure, one delta at a time: the generation and the plan move on
        only once every write of a delta is done, a repeated segment document (the same state)
        is kept, a repeated manifest replaces its twin, drops and deletes are idempotent.
        """
        written = 0
        for c in deltas:
            if c.partition not in self.generation:
                raise RuntimeError(f"partition {c.partition} saved before it was loaded")
            g, plan, docs = self._write_segment(topic, c)
            manifest = {
                "_id": g,
                "next_offset": c.next_offset,
                "topic": topic,
                "partition": c.partition,
                "global_version": c.global_version,
                "segments": sorted(set(plan.where.values())),
                "devices": len(plan.where),
                "changed": len(c.changed),
                "updated_at": time.time(),
            }
            _insert_replacing(self._manifests(topic, c.partition), [manifest])
            written += sum(len(encode(d)) for d in (*docs, manifest))
            for seg in sorted(plan.retire):
                self._segment(topic, c.partition, seg).drop()
            self._manifests(topic, c.partition).delete_many({"_id": {"$lt": g}})
            self.generation[c.partition] = g
            self._where[c.partition] = plan.where
        return written

    def _write_segment(self, topic: str, c: Delta) -> tuple[int, SegmentPlan, list[dict[str, Any]]]:
        """Write the delta's new segment: (its generation, the plan, the documents written).

        A generation whose collection cannot be created because the server holds a stray table
        of that name is skipped for the next one (FerretDB's SQLite backend, SIGKILLed while it
        created a collection, keeps the table but not its catalogue entry; every later create of
        that name fails). No manifest lists a skipped generation, so nothing reads it."""
        g = self.generation[c.partition] + 1
        plan = plan_segments(self._where[c.partition], c.changed, c.dropped, g, self.keep_segments)
        docs = [device_document(d, st) for d, st in sorted(c.changed.items())]
        for seg, moving in sorted(plan.copy.items()):
            docs += [
                doc
                for doc in self._segment(topic, c.partition, seg).find({})
                if doc["_id"] in moving
            ]
        if not docs:
            return g, plan, docs
        for _ in range(MAX_SKIPPED_GENERATIONS):
            try:
                _insert_ignoring(self._segment(topic, c.partition, g), docs)
            except OperationFailure as exc:
                if "already exists" not in str(exc):
                    raise
                log.warning(
                    "segment collection cannot be created: skipping its generation",
                    partition=c.partition, generation=g, error=str(exc)[:300],
                )  # fmt: skip
                # a fresh generation number changes where devices go, not what is copied
                g += 1
                plan = plan_segments(
                    self._where[c.partition], c.changed, c.dropped, g, self.keep_segments
                )
                continue
            return g, plan, docs
        raise RuntimeError(
            f"partition {c.partition}: {MAX_SKIPPED_GENERATIONS} segment generations in a row "
            "could not be created"
        )

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
