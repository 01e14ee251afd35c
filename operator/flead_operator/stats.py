"""status.anomalies and status.lastSeen from the trainers' per-device metrics, read from Prometheus.

Optional (``FLEAD_OPERATOR_PROMETHEUS_URL``). Every ``FLEAD_OPERATOR_STATS_SECONDS`` the operator
asks Prometheus for ``sum by (namespace, device)`` of ``flead_device_anomalies_total`` and
``flead_device_readings_total``; a device's ``anomalies`` is written when it changed, and
``lastSeen`` is set to the poll time when its readings counter moved since the previous poll.
Series without a ``namespace`` label (local process stack) match the device id in every namespace.
At most one status write per device per interval, and only for devices whose figures changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from flead.logging import get_logger
from flead_operator.records import DeviceRecord

__all__ = ["StatsPoller", "stats_patches", "vector"]

log = get_logger("flead_operator.stats")
Series = dict[tuple[str | None, str], float]
QUERIES = {
    "anomalies": "sum by (namespace, device) (flead_device_anomalies_total)",
    "readings": "sum by (namespace, device) (flead_device_readings_total)",
}


def vector(payload: Mapping[str, Any]) -> Series:
    """(namespace or None, device id) -> value, from a Prometheus instant-query answer."""
    out: Series = {}
    for item in payload.get("data", {}).get("result", []):
        labels = item.get("metric", {})
        if "device" in labels:
            out[(labels.get("namespace"), labels["device"])] = float(item["value"][1])
    return out


def _lookup(series: Series, device: DeviceRecord) -> float | None:
    value = series.get((device.namespace, device.device_id))
    return value if value is not None else series.get((None, device.device_id))


def stats_patches(
    devices: Iterable[DeviceRecord],
    anomalies: Series,
    readings: Series,
    previous: Mapping[tuple[str, str], float],
    now: str,
) -> tuple[list[tuple[DeviceRecord, dict[str, Any]]], dict[tuple[str, str], float]]:
    """Status patches for devices whose figures changed, and the readings to compare next time."""
    patches: list[tuple[DeviceRecord, dict[str, Any]]] = []
    seen: dict[tuple[str, str], float] = {}
    for device in devices:
        patch: dict[str, Any] = {}
        count = _lookup(anomalies, device)
        if count is not None and device.status.get("anomalies") != int(count):
            patch["anomalies"] = int(count)
        total = _lookup(readings, device)
        if total is not None:
            key = (device.namespace, device.name)
            if key in previous and previous[key] != total:
                patch["lastSeen"] = now
            seen[key] = total
        if patch:
            patches.append((device, patch))
    return patches, seen


class StatsPoller:
    """The polling task; ``write(namespace, name, patch)`` is awaited for each changed device."""

    def __init__(
        self,
        url: str,
        interval: float,
        devices: Mapping[str, Any],
        write: Callable[[str, str, dict[str, Any]], Any],
        now: Callable[[], str],
    ) -> None:
        self._url = url.rstrip("/") + "/api/v1/query"
        self._interval = interval
        self._devices = devices
        self._write = write
        self._now = now
        self._previous: dict[tuple[str, str], float] = {}

    async def run(self) -> None:
        """Poll until cancelled; a failing Prometheus is logged and retried next interval."""
        async with httpx.AsyncClient(timeout=10.0) as http:
            while True:
                await asyncio.sleep(self._interval)
                try:
                    await self.poll(http)
                except Exception as error:  # Prometheus or API trouble: try again next round
                    log.warning("device figures not updated", error=str(error)[:300])

    async def poll(self, http: httpx.AsyncClient) -> int:
        """One round: query, compare, write; returns the number of devices written."""
        series = {}
        for name, query in QUERIES.items():
            response = await http.get(self._url, params={"query": query})
            response.raise_for_status()
            series[name] = vector(response.json())
        devices = [d for namespace in list(self._devices) for d in self._devices[namespace]]
        patches, self._previous = stats_patches(
            devices, series["anomalies"], series["readings"], self._previous, self._now()
        )
        for device, patch in patches:
            await self._write(device.namespace, device.name, patch)
        return len(patches)
