"""Device figures from Prometheus: parsing, when anomalies and lastSeen are written, one poll."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from flead_operator.records import DeviceRecord
from flead_operator.stats import StatsPoller, stats_patches, vector

pytestmark = pytest.mark.unit

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"


def _answer(*rows: tuple[dict[str, str], float]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": m, "value": [1.0, str(v)]} for m, v in rows],
        },
    }


def _device(name: str, device_id: str, **status: Any) -> DeviceRecord:
    return DeviceRecord(name, "lab", device_id, None, None, False, 1, status)


def test_vector_keys_by_namespace_and_device() -> None:
    """Series without a device label are ignored; a missing namespace becomes None."""
    parsed = vector(
        _answer(({"namespace": "lab", "device": "1"}, 3), ({"device": "2"}, 5), ({}, 9))
    )
    assert parsed == {("lab", "1"): 3.0, (None, "2"): 5.0}


def test_anomalies_written_only_when_changed() -> None:
    """A changed count is written; an equal one costs nothing; namespace-less series match."""
    devices = [_device("a", "1", anomalies=3), _device("b", "2", anomalies=1)]
    anomalies = {("lab", "1"): 3.0, (None, "2"): 4.0}
    patches, _ = stats_patches(devices, anomalies, {}, {}, T0)
    assert [(d.name, p) for d, p in patches] == [("b", {"anomalies": 4})]


def test_last_seen_moves_only_when_the_readings_counter_moved() -> None:
    """First poll only remembers; a moved counter sets lastSeen to the poll time; a still one not."""
    devices = [_device("a", "1"), _device("b", "2")]
    first, seen = stats_patches(devices, {}, {("lab", "1"): 10.0, ("lab", "2"): 7.0}, {}, T0)
    assert first == []
    second, _ = stats_patches(devices, {}, {("lab", "1"): 12.0, ("lab", "2"): 7.0}, seen, T1)
    assert [(d.name, p) for d, p in second] == [("a", {"lastSeen": T1})]


def test_one_poll_queries_prometheus_and_writes_changes() -> None:
    """A poll asks both queries and writes the changed devices through the given writer."""

    def prometheus(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        if "anomalies" in query:
            return httpx.Response(200, json=_answer(({"namespace": "lab", "device": "1"}, 2)))
        return httpx.Response(200, json=_answer(({"namespace": "lab", "device": "1"}, 40)))

    written: list[tuple[str, str, dict[str, Any]]] = []

    async def write(namespace: str, name: str, patch: dict[str, Any]) -> None:
        written.append((namespace, name, patch))

    devices = {"lab": [_device("mote-1", "1")]}
    poller = StatsPoller("http://prom:9090/", 60, devices, write, lambda: T0)

    async def scenario() -> int:
        async with httpx.AsyncClient(transport=httpx.MockTransport(prometheus)) as http:
            return await poller.poll(http)

    assert asyncio.run(scenario()) == 1
    assert written == [("lab", "mote-1", {"anomalies": 2})]
