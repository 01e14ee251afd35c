"""The aggregator's service shell around a `Strategy`: durable accept, publish, restart, roll back."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from flead.federation import (
    Kind,
    Lineage,
    ModelVersion,
    SpecMismatch,
    Strategy,
    Update,
    UpdateRejected,
    make_strategy,
)
from flead.logging import get_logger
from flead.model import ModelSpec
from flead_aggregator import metrics as m
from flead_aggregator.group_commit import GroupCommit
from flead_aggregator.settings import AggregatorSettings
from flead_aggregator.store import ModelRecord, Store, StoreUnavailable
from flead_aggregator.versions import observe_round, record_of

__all__ = ["DROPPED", "RETRY_AFTER_SECONDS", "Coordinator", "Unavailable"]

DROPPED = -1  # `version` of an accepted update that no version will contain (stale after restart)
RETRY_AFTER_SECONDS = 5  # what a refused write's Retry-After says
log = get_logger(__name__)


class Unavailable(Exception):  # noqa: N818 -- reads as the condition it reports
    """A write refused because the store is down: nothing of it was acknowledged (503)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = RETRY_AFTER_SECONDS


class Coordinator:
    """Thread-safe. The strategy decides everything about aggregation; this class only makes it
    durable: an update is stored before it is folded in (and before the 202), a version is
    stored before it is served, and a restart replays the stored, unaggregated updates.

    While the store is down (a write raised StoreUnavailable) writes are refused at once
    (`Unavailable`, a 503), reads are served from memory, and `recover` (called by the rounds
    thread) reloads everything from the store once it answers again — as a restart would, so a
    write that landed although its reply was lost is neither lost nor counted twice."""

    def __init__(
        self,
        store: Store,
        settings: AggregatorSettings,
        spec: ModelSpec | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.s = settings
        self.spec = spec or settings.spec
        self._clock = clock
        self._lock = threading.RLock()
        self._strategy: Strategy | None = None
        self._current: ModelRecord | None = None
        self.started = False
        self._down: str | None = None  # why the store counts as down; None while it answers
        self._down_since: float | None = None
        self._generation = 0  # bumped by every (re)load of the strategy from the store
        # concurrent requests' updates share one insert: durable together, acknowledged together
        self._updates: GroupCommit[Update, bool] = GroupCommit(self._put_updates)
        m.DEPENDENCY_UP.labels("mongodb").set(1)

    @property
    def strategy(self) -> Strategy:
        """The running strategy."""
        if self._strategy is None:
            raise RuntimeError("coordinator not started")
        return self._strategy

    @property
    def current(self) -> ModelRecord:
        """The current global version (as stored)."""
        if self._current is None:
            raise RuntimeError("coordinator not started")
        return self._current

    @property
    def policy(self) -> str:
        """sync | async."""
        return self.s.strategy.policy.value

    @property
    def down_reason(self) -> str | None:
        """Why the store counts as down (writes refused); None while it answers."""
        return self._down

    def start(self) -> None:
        """Load (or create) the current version; replay accepted, unaggregated updates into the
        strategy. Raises SpecMismatch when the registry holds another model than `spec`, and
        StoreUnavailable while the store is down."""
        with self._lock:
            try:
                self._load()
            except StoreUnavailable as exc:
                self._mark_down("start", exc)
                raise
            except Unavailable:
                raise
            self._recovered()

    def recover(self) -> bool:
        """While the store is down: once it answers, reload from it; True when writes are back."""
        if self._down is None:
            return True
        if not self.store.ping():
            return False
        with self._lock:
            try:
                self._load()
            except StoreUnavailable as exc:
                self._mark_down("reload", exc)
                return False
            except Unavailable:  # a round due at load could not be stored: still down
                return False
            self._recovered()
        return True

    def _load(self) -> None:
        with self._lock:
            self.store.ensure_indexes()
            latest = self.store.latest_version()
            if latest is None:
                v0 = ModelVersion.initial(self.spec, self._clock(), self.s.aggregator_rule)
                rec = ModelRecord(v0, self.policy)
                self.store.put_model(rec)
            else:
                found = self.store.get_model(latest)
                assert found is not None
                rec = found
                if rec.model.spec != self.spec:
                    raise SpecMismatch(self.spec, rec.model.spec, "registry")
            strategy = make_strategy(self.s.strategy, rec.model)
            for v in range(max(0, rec.version - self.s.aggregator_max_staleness), rec.version):
                old = self.store.get_model(v)
                if old is not None:
                    strategy.remember(old.model)
            pending = self.store.pending_updates()
            done = set(rec.model.lineage.update_ids)
            self.store.mark_aggregated(
                [p.update_id for p in pending if p.update_id in done], rec.version
            )
            dropped = []
            for u in pending:
                if u.update_id in done:
                    continue
                try:
                    strategy.accept(u)
                except UpdateRejected:
                    dropped.append(u.update_id)
            self.store.mark_aggregated(dropped, DROPPED)
            self._strategy, self._current = strategy, rec  # only now: a failed load keeps the old
            self._generation += 1
            self.started = True
            self._close_if_due(self._clock())
            self._set_gauges()
            log.info("coordinator loaded", version=rec.version, pending=strategy.pending)

    def _mark_down(self, what: str, exc: BaseException) -> None:
        first = self._down is None
        self._down = f"mongodb unreachable during {what}: {exc}"[:300]
        if first:
            self._down_since = time.monotonic()
            m.DEPENDENCY_UP.labels("mongodb").set(0)
            log.warning("store down: writes refused until it answers", what=what, error=str(exc))

    def _recovered(self) -> None:
        if self._down is None:
            return
        down = time.monotonic() - (self._down_since or time.monotonic())
        self._down = self._down_since = None
        m.DEPENDENCY_UP.labels("mongodb").set(1)
        log.info("store back: reloaded, writes accepted", down_seconds=round(down, 3))

    def _writable(self) -> None:
        if self._down is not None:
            m.UPDATES.labels("unavailable").inc()
            raise Unavailable(self._down)

    def submit(self, updates: Update | Sequence[Update]) -> tuple[str, dict[str, Any]]:
        """Validate, store, then fold in one update or a bundle; raises UpdateRejected with the
        reason (for a bundle the field names the entry, `updates[i]....`, and nothing is kept)."""
        now = self._clock()
        batch = [
            replace(u, received_at=now)
            for u in ([updates] if isinstance(updates, Update) else updates)
        ]
        with self._lock:  # in memory only: validation against the current version
            fresh = [u for u in batch if not self.strategy.holds(u.update_id)]
            for u in fresh:
                try:
                    self.strategy.check(u)
                except UpdateRejected as exc:
                    m.UPDATES.labels(exc.outcome).inc()
                    if len(batch) == 1:
                        raise
                    raise UpdateRejected(
                        exc.reason, f"updates[{batch.index(u)}].{exc.field}", exc.message
                    ) from exc
            generation = self._generation
        stored = self._store_updates(fresh)  # durable before anyone hears 202
        m.UPDATES.labels("duplicate").inc(len(batch) - len(stored))
        if not stored:
            return "duplicate", {"status": "duplicate", "update_id": batch[0].update_id,
                                 "version": self.current.version}  # fmt: skip
        with self._lock:
            if generation != self._generation or self._down is not None:
                # Reloaded from the store (or about to be) while these were written: the reload
                # may or may not have seen them, so the next one folds them in, once.
                self._down = self._down or "reload after a store outage"
                m.UPDATES.labels("accepted").inc(len(stored))
                return "accepted", {
                    "status": "accepted", "update_id": batch[0].update_id,
                    "accepted": len(stored), "version": self.current.version,
                    "pending": self.strategy.pending + len(stored),
                }  # fmt: skip
            for u in stored:
                try:
                    staleness = self.strategy.accept(u)
                except UpdateRejected as exc:  # the version moved on since the check
                    drop = functools.partial(self.store.mark_aggregated, [u.update_id], DROPPED)
                    self._durably("drop", drop)
                    m.UPDATES.labels(exc.outcome).inc()
                    if len(batch) == 1:
                        raise
                    continue
                m.UPDATES.labels("accepted").inc()
                m.STALENESS.observe(staleness)
            try:
                self._close_if_due(now)
            except Unavailable:  # the updates are durable; the round closes after the reload
                pass
            except Exception:  # the updates are durable; the timer retries the round
                log.exception("round failed after an accepted update")
            self._set_gauges()
            return "accepted", {
                "status": "accepted", "update_id": batch[0].update_id, "accepted": len(stored),
                "version": self.current.version, "pending": self.strategy.pending,
            }  # fmt: skip

    def _store_updates(self, updates: list[Update]) -> list[Update]:
        """The updates newly stored (not duplicates); Unavailable while the store is down."""
        if not updates:
            return []
        self._writable()
        stored = self._durably("update write", functools.partial(self._updates.submit, updates))
        return [u for u, new in zip(updates, stored, strict=True) if new]

    def _put_updates(self, updates: list[Update]) -> list[bool]:
        m.UPDATE_WRITE_BATCH.observe(len(updates))
        return self.store.put_updates(updates)

    def _durably(self, what: str, write: Callable[[], Any]) -> Any:
        """One store write; a store outage marks it down and refuses the request (Unavailable)."""
        try:
            return write()
        except StoreUnavailable as exc:
            self._mark_down(what, exc)
            m.UPDATES.labels("unavailable").inc()
            raise Unavailable(self._down or str(exc)) from exc

    def tick(self) -> int | None:
        """Close a round (or flush the buffer) whose timeout passed (not while the store is down)."""
        with self._lock:
            if self._down is not None:
                return None
            try:
                return self._close_if_due(self._clock())
            except Unavailable:
                return None

    def aggregate_now(self) -> int | None:
        """Aggregate whatever is pending now; None when nothing is."""
        with self._lock:
            self._writable()
            return self._close()

    def rollback(self, version: int) -> ModelRecord:
        """Publish a new version whose tensors are those of `version`; KeyError when unknown.

        The round in progress is kept: its steps apply to the rolled-back tensors."""
        with self._lock:
            self._writable()
            target = self._durably("rollback read", lambda: self.store.get_model(version))
            if target is None:
                raise KeyError(version)
            cur = self.current.model
            lineage = Lineage(
                Kind.ROLLBACK, cur.version, self.strategy.name, self._clock(), rollback_to=version
            )
            rec = ModelRecord(cur.successor(target.model.tensors, lineage), self.policy)
            self._durably("version write", lambda: self.store.put_model(rec))
            self.strategy.adopt(rec.model, keep_round=True)
            self._current = rec
            self._set_gauges()
            return rec

    def status(self) -> dict[str, Any]:
        """The live summary behind GET /api/status."""
        with self._lock:
            cur, st = self.current, self.strategy
            return {
                "global_version": cur.version,
                "policy": self.policy,
                "rule": st.name,
                "granularity": st.granularity.value,
                "pending_updates": st.pending,
                "min_updates": self.s.aggregator_min_updates,
                "buffer_size": self.s.aggregator_buffer_size,
                "round_timeout_seconds": self.s.aggregator_round_timeout_seconds,
                "last_version_at": cur.created_at,
                "last_version_kind": cur.kind,
                "spec": str(cur.model.spec),
                "shapes": [list(w.shape) for w in cur.weights],
            }

    def served(self) -> ModelVersion:
        """The version trainers get (with the strategy's granularity)."""
        with self._lock:
            return self.strategy.current

    def _close_if_due(self, now: float) -> int | None:
        return self._close() if self.strategy.due(now) else None

    def _close(self) -> int | None:
        started = time.perf_counter()
        closed = self.strategy.close(self._clock())
        if closed is None:
            return None
        rec = record_of(closed, self.policy)
        self._durably("version write", lambda: self.store.put_model(rec))
        ids = list(rec.model.lineage.update_ids)
        self._durably("lineage write", lambda: self.store.mark_aggregated(ids, rec.version))
        self.strategy.adopt(rec.model)
        self._current = rec
        observe_round(closed, started)
        self._set_gauges()
        log.info(
            "global version published",
            version=rec.version,
            participants=closed.version.lineage.participants,
        )
        return rec.version

    def _set_gauges(self) -> None:
        m.GLOBAL_VERSION.set(self.current.version)
        m.PENDING.set(self.strategy.pending)
