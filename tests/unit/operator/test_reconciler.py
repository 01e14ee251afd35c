"""The reconciler loop against a recording fake client: debouncing, de-duplication, retries."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from flead_operator.metrics import OperatorMetrics
from flead_operator.reconciler import Reconciler
from flead_operator.records import DeviceRecord
from flead_operator.settings import OperatorSettings

pytestmark = pytest.mark.unit


class RecordingKube:
    """Stands in for flead_operator.kube.Kube; fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[tuple[str, str]] = []
        self.failures = failures

    def _record(self, verb: str, name: str) -> None:
        self.calls.append((verb, name))
        if self.failures:
            self.failures -= 1
            raise RuntimeError("API server unavailable")

    def apply_deployment(self, body: dict[str, Any]) -> None:
        self._record("apply", body["metadata"]["name"])

    def delete_deployment(self, namespace: str, name: str) -> None:
        self._record("delete", name)

    def apply_configmap(self, body: dict[str, Any]) -> None:
        self._record("configmap", body["metadata"]["name"])

    def delete_configmap(self, namespace: str, name: str) -> None:
        self._record("delete-configmap", name)

    def apply_serviceaccount(self, body: dict[str, Any]) -> None:
        self._record("serviceaccount", body["metadata"]["name"])

    def delete_serviceaccount(self, namespace: str, name: str) -> None:
        self._record("delete-serviceaccount", name)

    def patch_device_status(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        self._record("patch", name)

    def close(self) -> None:
        """Nothing to release."""


def _run(
    kube: RecordingKube, marks: int, reconciles: int, gap: float = 0.0, debounce: float = 0.2
) -> tuple[Reconciler, OperatorMetrics]:
    """Mark the namespace ``marks`` times, ``gap`` apart; stop after ``reconciles`` passes."""
    devices = {
        "lab": [DeviceRecord(f"mote-{i}", "lab", str(i), None, None, False, 1) for i in (1, 2)]
    }
    metrics = OperatorMetrics(CollectorRegistry())
    settings = OperatorSettings(debounce_seconds=debounce)
    reconciler = Reconciler(settings, kube, metrics, devices, {})  # type: ignore[arg-type]

    async def scenario() -> None:
        reconciler.start()
        for _ in range(marks):
            reconciler.mark("lab")
            await asyncio.sleep(gap)
        for _ in range(500):
            if reconciler.reconciles >= reconciles:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(debounce * 2)  # room for an unwanted extra pass
        reconciler.health()
        await reconciler.stop()

    asyncio.run(scenario())
    return reconciler, metrics


def test_bursts_of_events_are_debounced_into_one_reconcile() -> None:
    """Five quick marks -> one pass: one ServiceAccount, one device ConfigMap and one apply per
    group, one status patch per device; every ConfigMap and ServiceAccount is written before any
    Deployment."""
    kube = RecordingKube()
    reconciler, metrics = _run(kube, marks=5, reconciles=1)
    assert reconciler.reconciles == 1
    assert {verb for verb, _ in kube.calls[:4]} == {"configmap", "serviceaccount"}
    assert sorted(kube.calls) == [
        ("apply", "flead-trainer-p0-3"),
        ("apply", "flead-trainer-p8-11"),
        ("configmap", "flead-trainer-p0-3-devices"),
        ("configmap", "flead-trainer-p8-11-devices"),
        ("patch", "mote-1"),
        ("patch", "mote-2"),
        ("serviceaccount", "flead-trainer-p0-3"),
        ("serviceaccount", "flead-trainer-p8-11"),
    ]
    assert metrics.devices._value.get() == 2


def test_unechoed_writes_are_not_repeated() -> None:
    """The index has not changed since the last writes (watch lag): a new pass sends nothing."""
    kube = RecordingKube()
    reconciler = _run(kube, marks=2, reconciles=2, gap=0.5, debounce=0.05)[0]
    assert reconciler.reconciles == 2
    assert len(kube.calls) == 8


def test_failed_calls_are_counted_and_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing call increments the error counter and the namespace is reconciled again."""
    monkeypatch.setattr("flead_operator.reconciler.RETRY_SECONDS", 0.05)
    kube = RecordingKube(failures=1)
    reconciler, metrics = _run(kube, marks=1, reconciles=2, debounce=0.05)
    assert metrics.reconcile_errors._value.get() == 1
    assert reconciler.reconciles >= 2
    assert len(kube.calls) >= 9  # the failed write was sent again


def test_a_recreated_device_is_written_again() -> None:
    """Delete and re-create a device within the de-duplication window: its status is written anew."""
    kube = RecordingKube()
    first = DeviceRecord("mote-1", "lab", "1", None, None, False, 1, uid="old")
    devices = {"lab": [first]}
    settings = OperatorSettings(debounce_seconds=0.05)
    reconciler = Reconciler(settings, kube, OperatorMetrics(CollectorRegistry()), devices, {})  # type: ignore[arg-type]

    async def scenario() -> None:
        reconciler.start()
        reconciler.mark("lab")
        while reconciler.reconciles < 1:
            await asyncio.sleep(0.01)
        devices["lab"] = [DeviceRecord("mote-1", "lab", "1", None, None, False, 1, uid="new")]
        reconciler.mark("lab")
        while reconciler.reconciles < 2:
            await asyncio.sleep(0.01)
        await reconciler.stop()

    asyncio.run(scenario())
    assert [c for c in kube.calls if c[0] == "patch"] == [("patch", "mote-1"), ("patch", "mote-1")]


def test_a_pass_that_wrote_is_followed_by_one_without_any_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One mark, no further events (a lost watch echo): a follow-up pass re-plans the namespace
    by itself, and sends nothing the first pass already sent."""
    monkeypatch.setattr("flead_operator.reconciler.ECHO_SECONDS", 0.05)
    kube = RecordingKube()
    reconciler = _run(kube, marks=1, reconciles=2, debounce=0.05)[0]
    assert reconciler.reconciles >= 2
    assert len(kube.calls) == 8


def test_a_held_first_status_is_written_when_its_grace_ends_without_any_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A device created just now whose trainer never becomes available: the first pass applies
    the trainer but holds the status; with no further event, the reconciler plans again when
    the grace ends and writes TrainerPending then."""
    monkeypatch.setattr("flead_operator.reconciler.ECHO_SECONDS", 60.0)  # only the recheck
    kube = RecordingKube()
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    devices = {"lab": [DeviceRecord("mote-1", "lab", "1", None, None, False, 1, created=created)]}
    settings = OperatorSettings(debounce_seconds=0.05, pending_grace_seconds=2.0)
    reconciler = Reconciler(settings, kube, OperatorMetrics(CollectorRegistry()), devices, {})  # type: ignore[arg-type]
    patches: list[tuple[str, str]] = []

    async def scenario() -> None:
        reconciler.start()
        reconciler.mark("lab")
        while reconciler.reconciles < 1:
            await asyncio.sleep(0.01)
        patches.extend(c for c in kube.calls if c[0] == "patch")
        for _ in range(1000):  # at most 10 s; the grace ends within 3 s of the first pass
            if ("patch", "mote-1") in kube.calls:
                break
            await asyncio.sleep(0.01)
        await reconciler.stop()

    asyncio.run(scenario())
    assert patches == []  # held in the first pass
    assert [c for c in kube.calls if c[0] == "patch"] == [("patch", "mote-1")]


def _first_pass_after(marks: list[tuple[float, bool]], settings: OperatorSettings) -> float:
    """Seconds from the first mark to the first pass, with ``marks`` (offset, burst) sent."""
    kube = RecordingKube()
    devices = {"lab": [DeviceRecord("mote-1", "lab", "1", None, None, False, 1)]}
    reconciler = Reconciler(settings, kube, OperatorMetrics(CollectorRegistry()), devices, {})  # type: ignore[arg-type]
    took: list[float] = []

    async def scenario() -> None:
        reconciler.start()
        loop = asyncio.get_running_loop()
        started = loop.time()
        for offset, burst in marks:
            loop.call_at(started + offset, reconciler.mark, "lab", burst)
        while reconciler.reconciles < 1:
            await asyncio.sleep(0.005)
        took.append(loop.time() - started)
        await reconciler.stop()

    asyncio.run(scenario())
    return took[0]


def test_a_burst_of_adds_postpones_the_pass_until_it_stops_but_other_events_do_not() -> None:
    """Devices added every 0.1 s for 0.8 s: one pass after the last add plus the debounce (not
    one per debounce interval). Events that are no burst (status echoes, trainers rolling out)
    at the same pace leave the pass at the plain debounce. A burst that never stops is cut at
    debounce_max_seconds."""
    # The lower bounds are exact (the pass cannot start earlier); each upper bound is the lower
    # bound of the other behaviour, so only a loop stalled for ~0.5 s could blur them.
    settings = OperatorSettings(debounce_seconds=0.3, debounce_max_seconds=5.0)
    adds = [(i * 0.1, True) for i in range(9)]
    assert _first_pass_after(adds, settings) >= 0.8 + 0.3
    echoes = [(0.0, True)] + [(i * 0.1, False) for i in range(1, 9)]
    assert 0.3 <= _first_pass_after(echoes, settings) < 0.8 + 0.3
    capped = OperatorSettings(debounce_seconds=0.3, debounce_max_seconds=0.5)
    assert 0.5 <= _first_pass_after(adds, capped) < 0.8 + 0.3
