"""One asyncio task that regroups dirty namespaces, debounced, from kopf's in-memory indexes."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flead.logging import get_logger
from flead_operator.kube import Kube
from flead_operator.metrics import OperatorMetrics
from flead_operator.plan import plan_namespace
from flead_operator.records import DeviceRecord, TrainerRecord
from flead_operator.settings import OperatorSettings
from flead_operator.stats import StatsPoller
from flead_operator.writer import Writer

__all__ = ["Reconciler"]

log = get_logger("flead_operator.reconciler")
RETRY_SECONDS = 5.0
ECHO_SECONDS = 2.0  # a follow-up pass after writes, in case their watch echo never arrives
STATUS_BATCH_PER_WORKER = 4  # status writes per pass = api_concurrency * this


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reconciler:
    """Keeps every namespace's trainers and device statuses equal to the plan of its indexes."""

    def __init__(
        self,
        settings: OperatorSettings,
        kube: Kube,
        metrics: OperatorMetrics,
        devices: Mapping[str, Any],
        trainers: Mapping[str, Any],
    ) -> None:
        self._s = settings
        self._metrics = metrics
        self._devices = devices
        self._trainers = trainers
        self._dirty: set[str] = set()
        self._unfinished: set[str] = set()
        self._wake = asyncio.Event()
        self._burst = asyncio.Event()
        self._stopping = False
        self._indexed = False
        self._task: asyncio.Task[None] | None = None
        self._stats: asyncio.Task[None] | None = None
        self._writer = Writer(kube, settings.api_concurrency)
        self._counts: dict[str, tuple[int, int, int, int]] = {}
        self._rechecks: dict[str, asyncio.TimerHandle] = {}
        self.reconciles = 0

    def mark(self, namespace: str, burst: bool = False) -> None:
        """Ask for a regrouping of ``namespace`` (called by kopf's event handlers, post-indexing).

        ``burst``: a device was added or deleted, so more may follow; the regrouping waits for
        them to stop (see :meth:`_settle`)."""
        self._indexed = True
        self._dirty.add(namespace)
        self._wake.set()
        if burst:
            self._burst.set()

    def start(self) -> None:
        """Start the background task."""
        self._task = asyncio.create_task(self._run(), name="flead-reconciler")
        if self._s.prometheus_url:
            poller = StatsPoller(
                self._s.prometheus_url,
                self._s.stats_seconds,
                self._devices,
                self._writer.patch_status,
                _now,
            )
            self._stats = asyncio.create_task(poller.run(), name="flead-stats")

    async def stop(self, timeout: float = 10.0) -> None:
        """Let the current namespace finish (up to ``timeout``), then release the threads."""
        self._stopping = True
        self._wake.set()
        if self._stats is not None:
            self._stats.cancel()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
        self._writer.close()

    def health(self) -> dict[str, Any]:
        """Liveness data; raises when the background task has died (kopf then answers 500)."""
        if self._task is None or self._task.done():
            raise RuntimeError("the reconciler task is not running")
        return {"dirty": len(self._dirty), "reconciles": self.reconciles}

    async def _run(self) -> None:
        while not self._stopping:
            if not self._unfinished:  # else: carry on at once with the freshest plan
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._s.resync_seconds)
                except TimeoutError:
                    if self._indexed:
                        self._dirty |= set(self._devices) | set(self._trainers)
                await self._settle()
            self._dirty |= self._unfinished
            self._unfinished = set()
            self._wake.clear()
            self._writer.prune()
            batch, self._dirty = self._dirty, set()
            for namespace in sorted(batch):
                if self._stopping:
                    break
                await self._reconcile(namespace)

    async def _settle(self) -> None:
        """Wait ``debounce_seconds``, and on while devices keep being added or deleted, until
        none was for ``debounce_seconds`` (at most ``debounce_max_seconds`` in all): a burst of
        creates becomes one pass, so each group's device ConfigMap and trainer are written once
        for the burst, not once a second. Other events (status echoes, trainers rolling out)
        do not prolong the wait."""
        deadline = time.monotonic() + self._s.debounce_max_seconds
        self._burst.clear()
        while not self._stopping:
            quiet = min(self._s.debounce_seconds, deadline - time.monotonic())
            if quiet <= 0:
                return
            try:
                await asyncio.wait_for(self._burst.wait(), timeout=quiet)
            except TimeoutError:
                return
            self._burst.clear()

    async def _reconcile(self, namespace: str) -> None:
        started = time.perf_counter()
        devices: list[DeviceRecord] = list(self._devices.get(namespace, ()))
        trainers: list[TrainerRecord] = list(self._trainers.get(namespace, ()))
        plan = plan_namespace(namespace, devices, trainers, self._s, _now())
        seen: dict[Any, Any] = {t.name: t for t in trainers}
        for device in devices:  # a tuple: during watch lag an old and a new object share a name
            seen[("device", device.name)] = (*seen.get(("device", device.name), ()), device)
        limit = self._s.api_concurrency * STATUS_BATCH_PER_WORKER
        if len(plan.status) > limit:  # re-plan after a batch: later writes would be stale
            plan = replace(plan, status=plan.status[:limit])
            self._unfinished.add(namespace)
        # The gauges move before the writes: whoever sees a status this plan wrote sees its counts.
        self._counts[namespace] = (plan.devices, plan.ready, plan.groups, len(trainers))
        if not devices and not trainers:
            self._counts.pop(namespace, None)
        self._publish_counts()
        failures = await self._writer.execute(namespace, plan, seen)
        self.reconciles += 1
        self._metrics.reconcile_duration.observe(time.perf_counter() - started)
        if failures:
            self._metrics.reconcile_errors.inc()
            log.warning("reconcile failed, retrying", namespace=namespace, failures=failures)
            asyncio.get_running_loop().call_later(RETRY_SECONDS, self.mark, namespace)
        elif plan.apply or plan.delete or plan.status:
            # One more pass once the writes should have echoed: the plan (and the Ready gauge)
            # converges even when a watch event is lost, as seen across an API-server outage.
            asyncio.get_running_loop().call_later(ECHO_SECONDS, self.mark, namespace)
        if plan.recheck_seconds is not None:
            # Held first statuses are written when their trainer turns available (its watch
            # event marks the namespace) or, at the latest, when their grace runs out.
            if (pending := self._rechecks.pop(namespace, None)) is not None:
                pending.cancel()
            self._rechecks[namespace] = asyncio.get_running_loop().call_later(
                plan.recheck_seconds + 1.0, self.mark, namespace
            )
        if plan.apply or plan.delete or plan.status:
            log.info(
                "reconciled",
                namespace=namespace,
                devices=plan.devices,
                ready=plan.ready,
                groups=plan.groups,
                applied=[b["metadata"]["name"] for b in plan.apply],
                deleted=list(plan.delete),
                status_patches=len(plan.status),
                held=plan.held,
                seconds=round(time.perf_counter() - started, 3),
            )

    def _publish_counts(self) -> None:
        totals = [sum(c[i] for c in self._counts.values()) for i in range(4)]
        self._metrics.devices.set(totals[0])
        self._metrics.devices_ready.set(totals[1])
        self._metrics.groups.set(totals[2])
        self._metrics.trainers.set(totals[3])
