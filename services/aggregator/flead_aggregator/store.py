"""What the aggregator keeps durably (model registry, accepted updates), and an in-memory stand-in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

__all__ = ["MemoryStore", "ModelRecord", "Store", "UpdateRecord"]


@dataclass(frozen=True)
class ModelRecord:
    """One global version in the registry, with lineage and an evaluation summary."""

    version: int
    weights: list[np.ndarray]
    created_at: float
    kind: str  # initial | round | rollback
    parent: int | None = None
    rule: str = ""
    policy: str = ""
    lineage: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The record without its weights (for /api/history)."""
        return {
            "version": self.version,
            "created_at": self.created_at,
            "kind": self.kind,
            "parent": self.parent,
            "rule": self.rule,
            "policy": self.policy,
            "lineage": self.lineage,
            "evaluation": self.evaluation,
        }


@dataclass(frozen=True)
class UpdateRecord:
    """An accepted update: durable before the client hears 202, pending until aggregated."""

    update_id: str
    device: str
    samples: int
    base_version: int
    weights: list[np.ndarray]
    received_at: float
    loss: float | None = None


class Store(Protocol):
    """Durable state of the aggregator; MongoStore on MongoDB/FerretDB, MemoryStore for unit tests."""

    def ping(self) -> bool: ...
    def ensure_indexes(self) -> None: ...
    def latest_version(self) -> int | None: ...
    def get_model(self, version: int) -> ModelRecord | None: ...
    def put_model(self, record: ModelRecord) -> None: ...
    def history(self, limit: int) -> list[dict[str, Any]]: ...
    def has_update(self, update_id: str) -> bool: ...
    def put_update(self, record: UpdateRecord) -> bool: ...
    def pending_updates(self) -> list[UpdateRecord]: ...
    def mark_aggregated(self, update_ids: list[str], version: int) -> None: ...


class MemoryStore:
    """A dict-backed Store with MongoStore's semantics; for pure unit tests only."""

    def __init__(self) -> None:
        self.models: dict[int, ModelRecord] = {}
        self.updates: dict[str, tuple[UpdateRecord, int | None]] = {}
        self.pointer: int | None = None

    def ping(self) -> bool:
        """Always reachable."""
        return True

    def ensure_indexes(self) -> None:
        """Nothing to index."""

    def latest_version(self) -> int | None:
        """Highest version stored, None when empty."""
        return max(self.models) if self.models else None

    def get_model(self, version: int) -> ModelRecord | None:
        """The record of `version`, if stored."""
        return self.models.get(version)

    def put_model(self, record: ModelRecord) -> None:
        """Store a new version and move the current pointer to it."""
        if record.version in self.models:
            raise ValueError(f"version {record.version} already exists")
        self.models[record.version] = record
        self.pointer = record.version

    def history(self, limit: int) -> list[dict[str, Any]]:
        """Newest first, without weights."""
        return [self.models[v].summary() for v in sorted(self.models, reverse=True)[:limit]]

    def has_update(self, update_id: str) -> bool:
        """Whether this id was ever accepted."""
        return update_id in self.updates

    def put_update(self, record: UpdateRecord) -> bool:
        """Store an accepted update; False when the id exists already."""
        if record.update_id in self.updates:
            return False
        self.updates[record.update_id] = (record, None)
        return True

    def pending_updates(self) -> list[UpdateRecord]:
        """Accepted updates not yet part of a global version, oldest first."""
        pending = [r for r, v in self.updates.values() if v is None]
        return sorted(pending, key=lambda r: r.received_at)

    def mark_aggregated(self, update_ids: list[str], version: int) -> None:
        """Record that these updates went into `version`."""
        for uid in update_ids:
            record, _ = self.updates[uid]
            self.updates[uid] = (record, version)
