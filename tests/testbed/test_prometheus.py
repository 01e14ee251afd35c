"""Smoke test: the bed's Prometheus discovers targets registered in its file_sd folder."""

import os
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.support.testbed import unique, wait_until

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _query(promql: str) -> list[dict]:
    resp = httpx.get(
        f"{os.environ['PROMETHEUS_URL']}/api/v1/query", params={"query": promql}, timeout=10
    )
    resp.raise_for_status()
    body = resp.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def test_registered_target_is_scraped(register_prometheus_target: Callable[..., Path]) -> None:
    """Proves file-based discovery and scraping: a /metrics endpoint registered in
    $PROMETHEUS_TARGETS_DIR gets up == 1 and its sample is returned by PromQL."""
    registry = CollectorRegistry()
    gauge = Gauge("flead_testbed_smoke_value", "Set by the test bed smoke test", registry=registry)
    gauge.set(42)
    port = _free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    smoke_id = unique("smoke")
    try:
        register_prometheus_target(
            f"127.0.0.1:{port}", {"job": "flead-smoke", "smoke_id": smoke_id}
        )
        up = wait_until(
            "the target to be scraped with up == 1",
            lambda: _query(f'up{{job="flead-smoke", smoke_id="{smoke_id}"}} == 1'),
            timeout=60,
        )
        assert up[0]["metric"]["instance"] == f"127.0.0.1:{port}"
        value = wait_until(
            "the smoke gauge in PromQL",
            lambda: _query(f'flead_testbed_smoke_value{{smoke_id="{smoke_id}"}}'),
            timeout=30,
        )
        assert float(value[0]["value"][1]) == 42.0
    finally:
        server.shutdown()
        thread.join(timeout=5)
