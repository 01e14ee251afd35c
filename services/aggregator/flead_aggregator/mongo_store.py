"""The aggregator's Store on MongoDB / FerretDB: registry versions, current pointer, accepted updates."""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError, PyMongoError

from flead.federation import ModelVersion, Update
from flead.mongo import open_database, transient
from flead.wire import decode_arrays, encode_arrays
from flead_aggregator.store import Evaluation, ModelRecord, StoreUnavailable

__all__ = ["MongoStore", "finite"]

_SUMMARY = {"blob": 0}
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


class MongoStore:
    """Collections `models` (_id = version), `registry` (_id "current"), `updates` (_id = id) and
    `update_blobs` (weights of pending updates; deleted once aggregated, so FerretDB's scans of
    it stay short).
    """

    def __init__(self, uri: str, database: str, *, timeout_ms: int = 5000) -> None:
        self.db = open_database(uri, database, timeout_ms=timeout_ms)
        self.client = self.db.client
        self.models = self.db["models"]
        self.registry = self.db["registry"]
        self.updates = self.db["updates"]
        self.blobs = self.db["update_blobs"]  # weights of pending updates only (kept small)
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
    def has_update(self, update_id: str) -> bool:
        """Whether this id was ever accepted."""
        return self.updates.find_one({"_id": update_id}, {"_id": 1}) is not None

    @_outage
    def put_update(self, record: Update) -> bool:
        """Durably store an accepted update (acknowledged write); False if the id exists."""
        doc = {
            "_id": record.update_id,
            "device": record.sender,
            "devices": record.devices,
            "via": record.via,
            "samples": record.samples,
            "base_version": record.base_version,
            "loss": finite(record.loss),
            "received_at": record.received_at,
            "status": "pending",
            "version": None,
        }
        blob = {"_id": record.update_id, "blob": Binary(encode_arrays(record.tensors, {}))}
        try:
            self.blobs.insert_one(blob)
        except DuplicateKeyError:
            if self.has_update(record.update_id):
                return False
            self.blobs.delete_one({"_id": record.update_id})  # left by a crash: replace it
            self.blobs.insert_one(blob)
        try:
            self.updates.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    @_outage
    def pending_updates(self) -> list[Update]:
        """Accepted updates not yet in a version, oldest first."""
        docs = list(self.updates.find({"status": "pending"}).sort("received_at", ASCENDING))
        ids = [d["_id"] for d in docs]
        blobs = {b["_id"]: bytes(b["blob"]) for b in self.blobs.find({"_id": {"$in": ids}})}
        out = []
        for doc in docs:
            weights, _ = decode_arrays(blobs[doc["_id"]])
            out.append(
                Update(
                    update_id=str(doc["_id"]),
                    sender=str(doc["device"]),
                    samples=int(doc["samples"]),
                    base_version=int(doc["base_version"]),
                    tensors=list(weights),
                    loss=doc.get("loss"),
                    received_at=float(doc["received_at"]),
                    devices=int(doc.get("devices", 1)),
                    via=str(doc.get("via") or ""),
                )
            )
        return out

    @_outage
    def mark_aggregated(self, update_ids: list[str], version: int) -> None:
        """Record that these updates went into `version`."""
        if update_ids:
            self.updates.update_many(
                {"_id": {"$in": update_ids}}, {"$set": {"status": "aggregated", "version": version}}
            )
            self.blobs.delete_many({"_id": {"$in": update_ids}})

    def close(self) -> None:
        """Close the client."""
        self.client.close()
