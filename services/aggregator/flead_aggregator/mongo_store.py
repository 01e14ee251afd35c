"""The aggregator's Store on MongoDB / FerretDB: registry versions, current pointer, accepted updates."""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import BulkWriteError, PyMongoError

from flead.federation import ModelVersion, Update
from flead.logging import get_logger
from flead.mongo import open_database, transient
from flead.wire import decode_arrays, encode_arrays
from flead_aggregator.store import Evaluation, ModelRecord, StoreUnavailable

__all__ = ["MongoStore", "finite"]

_SUMMARY = {"blob": 0}
DUPLICATE_KEY = 11000  # MongoDB's error code for an _id that exists
P = ParamSpec("P")
R = TypeVar("R")


def _outage(fn: Callable[P, R]) -> Callable[P, R]:
    """A transient PyMongoError (no server, connection lost) raised as StoreUnavailable."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except PyMongoError as exc:
            if not transient(exc):
                raise
            raise StoreUnavailable(
                f"mongodb unreachable: {type(exc).__name__}: {exc}"[:300]
            ) from exc

    return wrapper


def finite(value: Any) -> Any:
    """The value with NaN/inf floats replaced by None, recursively (FerretDB stores no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


LEGACY_BLOBS = "update_blobs"  # the earlier layout's weights of pending updates
log = get_logger("flead_aggregator.store")


class MongoStore:
    """Collections `models` (_id = version), `registry` (_id "current") and `updates` (_id = id;
    one document per accepted update, its weights kept only until it is aggregated).

    Updates accepted by an aggregator of the earlier layout (before 2026-12-01) kept their
    weights in `update_blobs`: pending ones are read from there and their blobs deleted once
    aggregated, so an upgrade with updates in flight loses none.
    """

    def __init__(self, uri: str, database: str, *, timeout_ms: int = 5000) -> None:
        self.db = open_database(uri, database, timeout_ms=timeout_ms)
        self.client = self.db.client
        self.models = self.db["models"]
        self.registry = self.db["registry"]
        self.updates = self.db["updates"]
        self.legacy_blobs = self.db[LEGACY_BLOBS]
        self._legacy: set[str] = set()  # pending updates whose weights are in `update_blobs`
        self._models: OrderedDict[int, ModelRecord] = OrderedDict()

    @_outage
    def ensure_indexes(self) -> None:
        """Index pending updates by status and arrival (idempotent)."""
        self.updates.create_index([("status", ASCENDING), ("received_at", ASCENDING)])

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            self.client.admin.command("ping")
        except PyMongoError:
            return False
        return True

    @_outage
    def latest_version(self) -> int | None:
        """Highest version in the registry."""
        doc = self.models.find_one({}, {"_id": 1}, sort=[("_id", DESCENDING)])
        return None if doc is None else int(doc["_id"])

    @_outage
    def get_model(self, version: int) -> ModelRecord | None:
        """One version with its weights (the last few are cached: versions never change)."""
        cached = self._models.get(version)
        if cached is not None:
            return cached
        doc = self.models.find_one({"_id": version})
        if doc is None:
            return None
        ev = doc.get("evaluation") or {}
        record = ModelRecord(
            ModelVersion.from_blob(bytes(doc["blob"])),
            str(doc.get("policy", "")),
            Evaluation(
                ev.get("step_norm"),
                ev.get("mean_client_loss"),
                int(ev.get("participants") or 0),
                int(ev.get("samples") or 0),
            ),
        )
        self._remember(record)
        return record

    def _remember(self, record: ModelRecord) -> None:
        self._models[record.version] = record
        while len(self._models) > 16:
            self._models.popitem(last=False)

    @_outage
    def put_model(self, record: ModelRecord) -> None:
        """Insert a version (weights as BSON binary), then move the current pointer to it."""
        doc = finite(record.summary())
        doc["_id"] = record.version
        doc["blob"] = Binary(record.model.to_blob())
        self.models.insert_one(doc)
        self.registry.replace_one(
            {"_id": "current"}, {"_id": "current", "version": record.version}, upsert=True
        )
        self._remember(record)

    @_outage
    def history(self, limit: int) -> list[dict[str, Any]]:
        """Newest versions first, without weights."""
        cursor = self.models.find({}, _SUMMARY).sort("_id", DESCENDING).limit(limit)
        return [{k: v for k, v in d.items() if k != "_id"} for d in cursor]

    @_outage
    def put_updates(self, updates: Sequence[Update]) -> list[bool]:
        """Durably store accepted updates, weights included, in one acknowledged insert_many;
        per update False when its id was stored before (a duplicate, nothing written)."""
        docs = [
            {
                "_id": u.update_id,
                "device": u.sender,
                "devices": u.devices,
                "via": u.via,
                "samples": u.samples,
                "base_version": u.base_version,
                "loss": finite(u.loss),
                "received_at": u.received_at,
                "status": "pending",
                "version": None,
                "blob": Binary(encode_arrays(u.tensors, {})),
            }
            for u in updates
        ]
        stored = [True] * len(docs)
        try:
            self.updates.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            for e in errors:
                stored[int(e["index"])] = False
        return stored

    @_outage
    def pending_updates(self) -> list[Update]:
        """Accepted updates not yet in a version, oldest first."""
        docs = list(self.updates.find({"status": "pending"}).sort("received_at", ASCENDING))
        legacy = [doc["_id"] for doc in docs if "blob" not in doc]
        blobs = (
            {doc["_id"]: doc["blob"] for doc in self.legacy_blobs.find({"_id": {"$in": legacy}})}
            if legacy
            else {}
        )
        self._legacy = {str(update_id) for update_id in blobs}
        out = []
        for doc in docs:
            blob = doc.get("blob", blobs.get(doc["_id"]))
            if blob is None:
                log.error("pending update without weights: skipped", update=str(doc["_id"]))
                continue
            out.append(
                Update(
                    update_id=str(doc["_id"]),
                    sender=str(doc["device"]),
                    samples=int(doc["samples"]),
                    base_version=int(doc["base_version"]),
                    tensors=list(decode_arrays(bytes(blob))[0]),
                    loss=doc.get("loss"),
                    received_at=float(doc["received_at"]),
                    devices=int(doc.get("devices", 1)),
                    via=str(doc.get("via") or ""),
                )
            )
        return out

    @_outage
    def mark_aggregated(self, update_ids: list[str], version: int) -> None:
        """Record that these updates went into `version`; their weights are dropped (the version
        holds what they contributed), so the collection holds weights of pending updates only."""
        if update_ids:
            self.updates.update_many(
                {"_id": {"$in": update_ids}},
                {"$set": {"status": "aggregated", "version": version}, "$unset": {"blob": ""}},
            )
            if legacy := [u for u in update_ids if u in self._legacy]:
                self.legacy_blobs.delete_many({"_id": {"$in": legacy}})
                self._legacy.difference_update(legacy)

    def close(self) -> None:
        """Close the client."""
        self.client.close()
