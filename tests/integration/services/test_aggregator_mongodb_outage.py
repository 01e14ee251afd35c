"""FerretDB killed under a running aggregator: writes 503 + Retry-After, reads served, self-recovery."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import numpy as np
import pytest

from flead.wire import decode_arrays, encode_arrays
from tests.integration.services.conftest import TOKEN, Bed, start_aggregator
from tests.support.testbed import wait_until

pytestmark = pytest.mark.integration

SETTINGS = {"flead_aggregator_min_updates": 2, "flead_aggregator_round_timeout_seconds": 3600}


def post(url: str, uid: str, weights: list[np.ndarray]) -> httpx.Response:
    """Send one binary update."""
    blob = encode_arrays(weights, {"device": uid, "samples": 10, "base_version": 0})
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Idempotency-Key": uid,
        "Content-Type": "application/octet-stream",
    }
    return httpx.post(f"{url}/api/local-update", content=blob, headers=headers, timeout=30)


def readyz(url: str) -> httpx.Response:
    """The aggregator's /readyz."""
    return httpx.get(f"{url}/readyz", timeout=30)


def test_mongodb_down_writes_503_reads_from_memory_then_recovers(
    bed: Bed, bed_component_down: Callable[..., AbstractContextManager[None]]
) -> None:
    """One update accepted; FerretDB SIGKILLed: a write answers 503 with Retry-After (and is
    not stored), GET /api/global-model still answers 200 from memory, /readyz is 503 naming
    mongodb and flead_dependency_up{dependency="mongodb"} is 0; FerretDB restarted on the same
    data: /readyz 200 without a restart of the aggregator, the refused update is accepted on
    resend, the round closes, and each accepted update is in exactly one version."""
    url, proc = start_aggregator(bed, **SETTINGS)
    base, _ = decode_arrays(httpx.get(f"{url}/api/global-model").content)
    step = [w + np.float32(0.01) for w in base]
    assert post(url, "a", step).status_code == 202

    with bed_component_down("ferretdb"):
        refused = post(url, "b", step)
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["retry-after"]) > 0
        assert refused.json()["detail"]["reason"] == "store_unavailable"
        again = post(url, "b", step)  # known down: refused at once
        assert again.status_code == 503
        model = httpx.get(f"{url}/api/global-model", timeout=10)
        assert model.status_code == 200
        assert model.headers["x-flead-model-version"] == "0"
        ready = readyz(url)
        assert ready.status_code == 503
        assert "mongodb" in ready.json()["reason"]
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert 'flead_dependency_up{dependency="mongodb"} 0.0' in metrics
        assert proc.poll() is None

    wait_until("aggregator ready again", lambda: readyz(url).status_code == 200, timeout=60)
    assert post(url, "a", step).status_code == 200  # still known: a duplicate
    assert post(url, "b", step).status_code == 202
    status = httpx.get(f"{url}/api/status").json()
    assert status["global_version"] == 1
    assert status["pending_updates"] == 0
    with bed.mongo() as client:
        accepted = [d["_id"] for d in client[bed.db]["updates"].find({})]
        lineages = [
            uid for d in client[bed.db]["models"].find({}) for uid in d["lineage"]["update_ids"]
        ]
    assert sorted(accepted) == ["a", "b"]
    assert Counter(lineages) == Counter({"a": 1, "b": 1})
    assert proc.poll() is None
    proc.terminate()
    assert proc.wait(30) == 0
