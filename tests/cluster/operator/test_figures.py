"""status.anomalies and status.lastSeen come from the trainers' metrics via the bed's Prometheus."""

from __future__ import annotations

import os
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from flead_operator.samples import mote
from flead_operator.testing import free_port
from tests.cluster.operator.conftest import apply_docs, devices, wait_ready
from tests.support.testbed import wait_until

pytestmark = pytest.mark.cluster


def test_anomalies_and_last_seen_reach_the_device_status(
    operator_factory: Any, device_namespace: str, register_prometheus_target: Any
) -> None:
    """A trainer-like /metrics page scraped by Prometheus ends up in mote-1's status."""
    registry = CollectorRegistry()
    readings = Counter("flead_device_readings", "readings", ["device"], registry=registry)
    anomalies = Counter("flead_device_anomalies", "anomalies", ["device"], registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        register_prometheus_target(
            f"127.0.0.1:{port}", {"job": "flead-trainer", "namespace": device_namespace}
        )
        operator = operator_factory(
            [device_namespace],
            FLEAD_OPERATOR_PROMETHEUS_URL=os.environ["PROMETHEUS_URL"],
            FLEAD_OPERATOR_STATS_SECONDS="5",
        ).start()
        apply_docs(device_namespace, [mote(1), mote(2)])
        wait_ready(device_namespace, 2)
        readings.labels(device="1").inc(10)
        anomalies.labels(device="1").inc(3)

        def anomalies_written() -> bool:
            return devices(device_namespace)["mote-1"]["status"].get("anomalies") == 3

        wait_until("status.anomalies of mote-1", anomalies_written, timeout=90)
        readings.labels(device="1").inc(5)

        def seen() -> bool:
            return "lastSeen" in devices(device_namespace)["mote-1"]["status"]

        wait_until("status.lastSeen of mote-1", seen, timeout=90)
        assert "anomalies" not in devices(device_namespace)["mote-2"]["status"]
        assert operator.healthz() == 200
    finally:
        server.shutdown()
        thread.join(5)
