"""kopf wiring: a start-up that fails and is retried by kopf can still succeed later."""

from __future__ import annotations

import asyncio
import functools

import kopf
import pytest
from prometheus_client import CollectorRegistry

from flead_operator import handlers

pytestmark = pytest.mark.unit


class NoClusterError(RuntimeError):
    """Stands for whatever makes a start-up attempt fail (no credentials, API unreachable)."""


def test_retried_startup_registers_metrics_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second start-up attempt fails for the same reason as the first, not with 'Duplicated
    timeseries': the metrics are registered once per process."""
    registry = CollectorRegistry()
    monkeypatch.setattr(
        handlers, "OperatorMetrics", functools.partial(handlers.OperatorMetrics, registry)
    )

    def no_cluster(pool_size: int) -> None:
        raise NoClusterError("no cluster credentials")

    monkeypatch.setattr(handlers, "load_configuration", no_cluster)
    monkeypatch.setenv("FLEAD_OPERATOR_METRICS_PORT", "0")
    memo = kopf.Memo()
    for _attempt in range(2):
        with pytest.raises(NoClusterError):
            asyncio.run(handlers.startup(settings=kopf.OperatorSettings(), memo=memo))
    assert registry.get_sample_value("flead_operator_devices") == 0


def test_change_handler_runs_on_the_event_loop() -> None:
    """kopf runs sync handlers in threads; the change trigger must be async so that waking the
    reconciler (an asyncio.Event) happens on its own loop, or changes wait for the resync."""
    assert asyncio.iscoroutinefunction(handlers.changed)


class MarkRecorder:
    """Stands in for the Reconciler: records each mark."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, bool]] = []

    def mark(self, namespace: str, burst: bool = False) -> None:
        self.marks.append((namespace, burst))


def test_only_devices_added_or_deleted_count_as_a_burst() -> None:
    """A device ADDED or DELETED marks its namespace as a burst (the regrouping waits for more);
    a device MODIFIED (e.g. a status echo) and any trainer Deployment event do not."""
    memo = kopf.Memo()
    memo.reconciler = MarkRecorder()
    device = kopf.Resource(handlers.GROUP, handlers.VERSION, handlers.PLURAL)
    deployment = kopf.Resource("apps", "v1", "deployments")
    for resource, kind in (
        (device, "ADDED"),
        (device, "DELETED"),
        (device, "MODIFIED"),
        (device, None),
        (deployment, "ADDED"),
        (deployment, "MODIFIED"),
    ):
        asyncio.run(handlers.changed(namespace="lab", memo=memo, type=kind, resource=resource))
    assert [burst for _, burst in memo.reconciler.marks] == [True, True, False, False, False, False]
