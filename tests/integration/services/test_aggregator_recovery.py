"""The aggregator killed mid-round and restarted: no accepted update is lost, the round completes."""

from __future__ import annotations

import signal

import httpx
import numpy as np
import pytest

from flead.wire import decode_arrays, encode_arrays
from tests.integration.services.conftest import TOKEN, Bed, start_aggregator

pytestmark = pytest.mark.integration

SETTINGS = {"flead_aggregator_min_updates": 3, "flead_aggregator_round_timeout_seconds": 3600}


def post(url: str, uid: str, weights: list[np.ndarray]) -> int:
    """Send one binary update; returns the status code."""
    blob = encode_arrays(weights, {"device": uid, "samples": 10, "base_version": 0})
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Idempotency-Key": uid,
        "Content-Type": "application/octet-stream",
    }
    return httpx.post(f"{url}/api/local-update", content=blob, headers=headers).status_code


def test_kill_mid_round_loses_no_update(bed: Bed) -> None:
    """Two of three updates accepted, SIGKILL, restart: both pending, the third closes the round."""
    url, proc = start_aggregator(bed, **SETTINGS)
    base, _ = decode_arrays(httpx.get(f"{url}/api/global-model").content)
    step = [w + np.float32(0.01) for w in base]
    assert post(url, "a", step) == 202
    assert post(url, "b", step) == 202
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)

    url, proc = start_aggregator(bed, **SETTINGS)
    assert httpx.get(f"{url}/api/status").json()["pending_updates"] == 2
    assert post(url, "a", step) == 200  # still known after the restart: a duplicate
    assert post(url, "c", step) == 202
    status = httpx.get(f"{url}/api/status").json()
    assert status["global_version"] == 1
    assert status["pending_updates"] == 0
    latest = httpx.get(f"{url}/api/history").json()[0]
    assert latest["lineage"]["update_ids"] == ["a", "b", "c"]
    assert latest["lineage"]["samples"] == 30
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
