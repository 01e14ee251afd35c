"""What the aggregator keeps durably (model registry, accepted updates), and an in-memory stand-in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from flead.federation import ModelVersion, Update

__all__ = ["Evaluation", "MemoryStore", "ModelRecord", "Store", "StoreUnavailable"]


class StoreUnavailable(Exception):  # noqa: N818 -- reads as the condition it reports
    """The store cannot be reached right now (an outage, not a bad request): try again later.
    A write that raised it may or may not have landed."""


class Evaluation(NamedTuple):
    """What the registry records about a version: its step and the clients' reported loss."""

    step_norm: float | None = None
    mean_client_loss: float | None = None
    participants: int = 0
    samples: int = 0


@dataclass(frozen=True)
class ModelRecord:
    """One global version in the registry: the `ModelVersion`, the policy and its evaluation."""

    model: ModelVersion
    policy: str = ""
    evaluation: Evaluation = field(default_factory=Evaluation)

    @property
    def version(self) -> int:
        """The version number."""
        return self.model.version

    @property
    def weights(self) -> list[np.ndarray]:
        """The federated tensors."""
        return self.model.weights

    @property
    def created_at(self) -> float:
        """When the version was made (epoch seconds)."""
        return self.model.lineage.created_at

    @property
    def kind(self) -> str:
        """initial | round | rollback."""
        return self.model.lineage.kind.value

    def summary(self) -> dict[str, Any]:
        """The record without its tensors (for /api/history)."""
        lin = self.model.lineage
        return {
            "version": self.version, "created_at": self.created_at, "kind": self.kind,
            "parent": lin.parent, "rule": lin.rule, "policy": self.policy,
            "lineage": lin.to_meta(), "evaluation": self.evaluation._asdict(),
            "spec": self.model.spec.to_meta(),
        }  # fmt: skip


class Store(Protocol):
    """Durable state of the aggregator; MongoStore on MongoDB/FerretDB, MemoryStore for unit tests.
    Every method but `ping` raises StoreUnavailable while the database is unreachable."""

    def ping(self) -> bool: ...
    def ensure_indexes(self) -> None: ...
    def latest_version(self) -> int | None: ...
    def get_model(self, version: int) -> ModelRecord | None: ...
    def put_model(self, record: ModelRecord) -> None: ...
    def history(self, limit: int) -> list[dict[str, Any]]: ...
    def put_updates(self, updates: Sequence[Update]) -> list[bool]: ...
    def pending_updates(self) -> list[Update]: ...
    def mark_aggregated(self, update_ids: list[str], version: int) -> None: ...


class MemoryStore:
    """A dict-backed Store with MongoStore's semantics; for pure unit tests only."""

    def __init__(self) -> None:
        self.models: dict[int, ModelRecord] = {}
        self.updates: dict[str, tuple[Update, int | None]] = {}
        self.pointer: int | None = None
        self.down = False  # tests: every call but ping raises StoreUnavailable while set

    def _reachable(self) -> None:
        if self.down:
            raise StoreUnavailable("memory store set down")

    def ping(self) -> bool:
        """Reachable unless set down."""
        return not self.down

    def ensure_indexes(self) -> None:
        """Nothing to index."""
        self._reachable()

    def latest_version(self) -> int | None:
        """Highest version stored, None when empty."""
        self._reachable()
        return max(self.models) if self.models else None

    def get_model(self, version: int) -> ModelRecord | None:
        """The record of `version`, if stored."""
        self._reachable()
        return self.models.get(version)

    def put_model(self, record: ModelRecord) -> None:
        """Store a new version and move the current pointer to it."""
        self._reachable()
        if record.version in self.models:
            raise ValueError(f"version {record.version} already exists")
        self.models[record.version] = record
        self.pointer = record.version

    def history(self, limit: int) -> list[dict[str, Any]]:
        """Newest first, without tensors."""
        self._reachable()
        return [self.models[v].summary() for v in sorted(self.models, reverse=True)[:limit]]

    def put_updates(self, updates: Sequence[Update]) -> list[bool]:
        """Store accepted updates in one write; per update False when its id exists already."""
        self._reachable()
        out = []
        for update in updates:
            out.append(update.update_id not in self.updates)
            self.updates.setdefault(update.update_id, (update, None))
        return out

    def pending_updates(self) -> list[Update]:
        """Accepted updates not yet part of a global version, oldest first."""
        self._reachable()
        pending = [r for r, v in self.updates.values() if v is None]
        return sorted(pending, key=lambda r: r.received_at)

    def mark_aggregated(self, update_ids: list[str], version: int) -> None:
        """Record that these updates went into `version` (or were dropped: version -1)."""
        self._reachable()
        for uid in update_ids:
            record, _ = self.updates[uid]
            self.updates[uid] = (record, version)
