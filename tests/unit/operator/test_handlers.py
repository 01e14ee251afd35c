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
