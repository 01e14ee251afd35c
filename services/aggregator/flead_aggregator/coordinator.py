"""The aggregator's state machine: accept updates durably, close rounds, publish and roll back versions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from flead.federation import FedBuff, UpdateRejected, validate_update
from flead.logging import get_logger
from flead_aggregator import metrics as m
from flead_aggregator.codec import ParsedUpdate
from flead_aggregator.policy import combine, round_due
from flead_aggregator.settings import AggregatorSettings
from flead_aggregator.store import ModelRecord, Store, UpdateRecord
from flead_aggregator.versions import next_version, observe_round

__all__ = ["DROPPED", "Coordinator"]

DROPPED = -1  # `version` of an accepted update dropped as too stale after a rollback (async)
log = get_logger(__name__)


class Coordinator:
    """Thread-safe: FastAPI handlers and the round timer call it; every write hits the Store first."""

    def __init__(
        self,
        store: Store,
        settings: AggregatorSettings,
        initial: Callable[[], list[np.ndarray]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.s = settings
        self._initial = initial
        self._clock = clock
        self._lock = threading.RLock()
        self._pending: list[UpdateRecord] = []
        self._buff: FedBuff | None = None
        self._current: ModelRecord | None = None
        self.started = False

    @property
    def current(self) -> ModelRecord:
        """The current global version."""
        if self._current is None:
            raise RuntimeError("coordinator not started")
        return self._current

    def start(self) -> None:
        """Load (or create) the current version and re-queue every accepted, unaggregated update."""
        with self._lock:
            self.store.ensure_indexes()
            latest = self.store.latest_version()
            if latest is None:
                rec = ModelRecord(
                    0, self._initial(), self._clock(), "initial", policy=self.s.aggregator_policy
                )
                self.store.put_model(rec)
            else:
                found = self.store.get_model(latest)
                assert found is not None
                rec = found
            self._current = rec
            pending = self.store.pending_updates()
            done = set(rec.lineage.get("update_ids", []))
            self.store.mark_aggregated(
                [p.update_id for p in pending if p.update_id in done], rec.version
            )
            self._pending = [p for p in pending if p.update_id not in done]
            if self.s.aggregator_policy == "async":
                self._rebuild_buffer()
            self.started = True
            self._set_gauges()
            log.info("coordinator started", version=rec.version, pending=len(self._pending))

    def submit(self, update: ParsedUpdate) -> tuple[str, dict[str, Any]]:
        """Validate and durably accept one update; raises UpdateRejected with the reason."""
        with self._lock:
            cur = self.current
            if self.store.has_update(update.update_id):
                return self._duplicate(update)
            try:
                validate_update(
                    update.weights, update.samples, update.base_version,
                    shapes=[w.shape for w in cur.weights], current_version=cur.version,
                    max_norm=self.s.aggregator_max_norm, max_staleness=self.s.aggregator_max_staleness,
                    global_weights=cur.weights,
                )  # fmt: skip
            except UpdateRejected as exc:
                m.UPDATES.labels(exc.outcome).inc()
                raise
            record = UpdateRecord(
                update.update_id, update.device, update.samples, update.base_version,
                update.weights, self._clock(), update.loss,
            )  # fmt: skip
            if not self.store.put_update(record):
                return self._duplicate(update)
            m.UPDATES.labels("accepted").inc()
            m.STALENESS.observe(cur.version - update.base_version)
            self._pending.append(record)
            try:
                self._enqueue(record)
                if self.s.aggregator_policy == "sync":
                    self._close_if_due(self._clock())
            except Exception:  # the update is durable; the timer retries the round
                log.exception("round failed after an accepted update")
            m.PENDING.set(len(self._pending))
            body = {"status": "accepted", "update_id": update.update_id}
            return "accepted", {
                **body,
                "version": self.current.version,
                "pending": len(self._pending),
            }

    def _duplicate(self, update: ParsedUpdate) -> tuple[str, dict[str, Any]]:
        m.UPDATES.labels("duplicate").inc()
        return "duplicate", {
            "status": "duplicate",
            "update_id": update.update_id,
            "version": self.current.version,
        }

    def tick(self) -> int | None:
        """Close a round whose timeout passed (sync) or flush an old buffer (async)."""
        with self._lock:
            now = self._clock()
            if self.s.aggregator_policy == "sync":
                return self._close_if_due(now)
            oldest = self._pending[0].received_at if self._pending else None
            if oldest is not None and now - oldest >= self.s.aggregator_round_timeout_seconds:
                return self.aggregate_now()
            return None

    def aggregate_now(self) -> int | None:
        """Aggregate whatever is pending now; None when nothing is."""
        with self._lock:
            if not self._pending:
                return None
            if self._buff is not None:
                if self._buff.flush() is None:
                    return None
                return self._publish(self._buff.weights(), "round")
            return self._close_round()

    def rollback(self, version: int) -> ModelRecord:
        """Publish a new version whose weights are those of `version`; KeyError when unknown."""
        with self._lock:
            target = self.store.get_model(version)
            if target is None:
                raise KeyError(version)
            self._publish(
                target.weights, "rollback", keep_pending=True, lineage={"rollback_to": version}
            )
            if self._buff is not None:
                self._rebuild_buffer()
            return self.current

    def status(self) -> dict[str, Any]:
        """The live summary behind GET /api/status."""
        with self._lock:
            cur = self.current
            return {
                "global_version": cur.version,
                "policy": self.s.aggregator_policy,
                "rule": self._rule(),
                "pending_updates": len(self._pending),
                "min_updates": self.s.aggregator_min_updates,
                "buffer_size": self.s.aggregator_buffer_size,
                "round_timeout_seconds": self.s.aggregator_round_timeout_seconds,
                "last_version_at": cur.created_at,
                "last_version_kind": cur.kind,
                "shapes": [list(w.shape) for w in cur.weights],
            }

    def _rule(self) -> str:
        return "fedbuff" if self.s.aggregator_policy == "async" else self.s.aggregator_rule

    def _close_if_due(self, now: float) -> int | None:
        oldest = self._pending[0].received_at if self._pending else None
        s = self.s
        if round_due(
            len(self._pending),
            oldest,
            now,
            s.aggregator_min_updates,
            s.aggregator_round_timeout_seconds,
        ):
            return self._close_round()
        return None

    def _close_round(self) -> int:
        cur = self.current
        weights = combine(
            [(u.weights, u.samples) for u in self._pending], cur.weights,
            rule=self.s.aggregator_rule, beta=self.s.aggregator_trim_beta,
            byzantine=self.s.aggregator_krum_byzantine, clip_norm=self.s.aggregator_clip_norm,
        )  # fmt: skip
        return self._publish(weights, "round")

    def _publish(
        self, weights: Sequence[np.ndarray], kind: str, *, keep_pending: bool = False,
        lineage: dict[str, Any] | None = None,
    ) -> int:  # fmt: skip
        started = time.perf_counter()
        used = [] if keep_pending else list(self._pending)
        rec = next_version(
            self.current, weights, used, kind=kind, rule=self._rule(),
            policy=self.s.aggregator_policy, now=self._clock(), lineage=lineage,
        )  # fmt: skip
        self.store.put_model(rec)
        self.store.mark_aggregated([u.update_id for u in used], rec.version)
        self._current = rec
        if not keep_pending:
            self._pending = []
            observe_round(rec, used, started)
        self._set_gauges()
        log.info("global version published", version=rec.version, kind=kind, participants=len(used))
        return rec.version

    def _set_gauges(self) -> None:
        m.GLOBAL_VERSION.set(self.current.version)
        m.PENDING.set(len(self._pending))

    def _enqueue(self, u: UpdateRecord) -> None:
        if self._buff is None:
            return
        base = self.store.get_model(u.base_version)
        if base is None:
            raise UpdateRejected("stale", "base_version", f"version {u.base_version} is unknown")
        delta = [
            np.asarray(w, np.float32) - b for w, b in zip(u.weights, base.weights, strict=True)
        ]
        if self._buff.add_delta(delta, u.samples, u.base_version) is not None:
            self._publish(self._buff.weights(), "round")

    def _rebuild_buffer(self) -> None:
        cur, s = self.current, self.s
        self._buff = FedBuff(
            s.aggregator_buffer_size, initial=cur.weights, server_lr=s.aggregator_server_lr,
            max_staleness=s.aggregator_max_staleness, version=cur.version,
        )  # fmt: skip
        keep, size = [], self._buff.buffer_size
        self._buff.buffer_size = 1 << 30  # replay without flushing mid-way
        for u in self._pending:
            try:
                self._enqueue(u)
                keep.append(u)
            except UpdateRejected:
                self.store.mark_aggregated([u.update_id], DROPPED)
        self._buff.buffer_size = size
        self._pending = keep
