"""The aggregator's REST surface on an in-memory store: auth, validation reasons, idempotency, ETags."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from flead.federation import ModelVersion, Update, bundle_blob
from flead.wire import decode_arrays
from tests.unit.services.aggregator.helpers import (
    SHAPES,
    SPEC,
    auth,
    blob,
    make_app,
    token,
    weights,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def client() -> TestClient:
    """A started app (lifespan run) on a MemoryStore."""
    app, _ = make_app()
    with TestClient(app) as c:
        c.get("/readyz")
        for _ in range(50):
            if c.get("/readyz").status_code == 200:
                break
        yield c


def test_write_without_token_is_401(client: TestClient) -> None:
    """A write with no Authorization header gets 401 and a Bearer challenge."""
    r = client.post("/api/local-update", content=blob(), headers={"Idempotency-Key": "a"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_write_with_wrong_token_is_403(client: TestClient) -> None:
    """A write with a wrong bearer token gets 403 naming the reason."""
    r = client.post("/api/aggregate", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 403
    assert r.json()["detail"]["reason"] == "forbidden"


def test_writes_refused_when_no_token_configured() -> None:
    """Without FLEAD_AGGREGATOR_TOKEN every write is refused (403 writes_disabled)."""
    app, _ = make_app(aggregator_token=None)
    with TestClient(app) as c:
        r = c.post("/api/aggregate", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 403
    assert r.json()["detail"]["reason"] == "writes_disabled"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (blob(w=[np.full(SHAPES[0], np.nan, np.float32), *weights()[1:]]), "non_finite"),
        (blob(w=[np.zeros((2, 5), np.float32), *weights()[1:]]), "shape"),
        (blob(w=weights(1e6)), "norm"),
        (blob(base=7), "stale"),
        (blob(samples=0), "samples"),
        (b"not a blob", "format"),
    ],
)
def test_bad_update_is_422_with_reason(client: TestClient, body: bytes, reason: str) -> None:
    """NaN, wrong shape, excessive norm, a future/stale base, no samples, garbage: 422 + reason."""
    r = client.post("/api/local-update", content=body, headers=auth("u-bad"))
    assert r.status_code == 422
    assert r.json()["detail"]["reason"] == reason


def test_too_stale_update_is_422() -> None:
    """An update more than max_staleness versions behind is refused as stale."""
    app, _ = make_app(aggregator_max_staleness=0, aggregator_min_updates=1)
    with TestClient(app) as c:
        assert c.post("/api/local-update", content=blob(), headers=auth("x1")).status_code == 202
        assert c.get("/api/status").json()["global_version"] == 1
        r = c.post("/api/local-update", content=blob(base=0), headers=auth("x2"))
    assert r.status_code == 422
    assert r.json()["detail"]["reason"] == "stale"


def test_missing_idempotency_key_is_422(client: TestClient) -> None:
    """An update needs an id: the Idempotency-Key header or update_id in its metadata."""
    r = client.post("/api/local-update", content=blob(), headers=auth())
    assert r.status_code == 422
    assert r.json()["detail"]["reason"] == "update_id"


def test_duplicate_update_is_accepted_once(client: TestClient) -> None:
    """The same id twice: 202 then 200 duplicate, and only one update is pending."""
    first = client.post("/api/local-update", content=blob(), headers=auth("same"))
    second = client.post("/api/local-update", content=blob(), headers=auth("same"))
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["status"] == "duplicate"
    assert client.get("/api/status").json()["pending_updates"] == 1


def test_round_closes_at_min_updates_and_history_has_lineage(client: TestClient) -> None:
    """Two updates close a round: version 1 is the sample-weighted mean, with lineage."""
    client.post("/api/local-update", content=blob("1", 10, w=weights(0.1)), headers=auth("a"))
    client.post("/api/local-update", content=blob("2", 30, w=weights(0.5)), headers=auth("b"))
    history = client.get("/api/history").json()
    assert [h["version"] for h in history] == [1, 0]
    assert history[0]["lineage"]["update_ids"] == ["a", "b"]
    assert history[0]["lineage"]["samples"] == 40
    served = ModelVersion.from_blob(client.get("/api/global-model").content)
    assert (served.version, served.spec) == (1, SPEC)
    np.testing.assert_allclose(served.tensors[0], 0.4, rtol=1e-6)


def test_a_bundle_of_device_updates_is_one_request(client: TestClient) -> None:
    """A trainer's per-device bundle: 202 with every entry stored, a resend is 200 duplicate,
    and a bad entry refuses the bundle with 422 naming the entry and its field."""

    def bundle(prefix: str, bad: int | None = None) -> bytes:
        ups = [Update(f"{prefix}{i}", f"d{i}", 5, 0, weights(0.1), via="g1") for i in range(3)]
        if bad is not None:
            nan = [np.full_like(w, np.nan) for w in weights()]
            ups[bad] = Update(f"{prefix}{bad}", "dx", 5, 0, nan, via="g1")
        return bundle_blob(ups)

    first = client.post("/api/local-update", content=bundle("b"), headers=auth())
    assert (first.status_code, first.json()["accepted"]) == (202, 3)
    assert client.post("/api/local-update", content=bundle("b"), headers=auth()).status_code == 200
    assert client.get("/api/status").json()["pending_updates"] == 3
    bad = client.post("/api/local-update", content=bundle("c", bad=1), headers=auth())
    assert bad.status_code == 422
    assert bad.json()["detail"]["field"] == "updates[1].weights[0]"
    assert bad.json()["detail"]["reason"] == "non_finite"
    assert client.get("/api/status").json()["pending_updates"] == 3


def test_json_update_is_accepted(client: TestClient) -> None:
    """The original JSON-lists format is accepted too."""
    body = {
        "device": "9",
        "samples": 5,
        "base_version": 0,
        "weights": [w.tolist() for w in weights()],
    }
    r = client.post(
        "/api/local-update", json=body, headers={**auth("j1"), "Content-Type": "application/json"}
    )
    assert r.status_code == 202


def test_etag_gives_304(client: TestClient) -> None:
    """If-None-Match with the current ETag answers 304 without a body."""
    first = client.get("/api/global-model")
    assert first.headers["x-flead-model-version"] == "0"
    again = client.get("/api/global-model", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_rollback_publishes_a_new_version(client: TestClient) -> None:
    """Rolling back to version 0 publishes version 2 with version 0's weights; unknown is 404."""
    client.post("/api/local-update", content=blob("1", w=weights(0.3)), headers=auth("r1"))
    client.post("/api/local-update", content=blob("2", w=weights(0.3)), headers=auth("r2"))
    r = client.post("/api/global-model/rollback", json={"version": 0}, headers=token())
    assert r.json() == {"version": 2, "rollback_to": 0}
    arrays, _ = decode_arrays(client.get("/api/global-model").content)
    assert float(np.abs(arrays[0]).max()) == 0.0
    missing = client.post("/api/global-model/rollback", json={"version": 99}, headers=token())
    assert missing.status_code == 404


def test_aggregate_now_with_nothing_pending(client: TestClient) -> None:
    """POST /api/aggregate with no pending update says so and keeps the version."""
    r = client.post("/api/aggregate", headers=auth())
    assert r.json() == {"aggregated": False, "reason": "no pending updates", "version": 0}


def test_a_registry_of_another_spec_keeps_the_aggregator_unready() -> None:
    """An aggregator whose spec differs from its registry's never becomes ready (503), and the
    status names both specs."""
    from flead.model import ModelSpec
    from flead_aggregator.app import create_app
    from flead_aggregator.settings import load_settings
    from tests.unit.services.aggregator.helpers import zero_store

    other = ModelSpec(("a",), hidden=(3,), seed=0)
    app = create_app(load_settings(aggregator_token="t"), store=zero_store(), spec=other)
    with TestClient(app) as c:
        for _ in range(20):
            assert c.get("/readyz").status_code == 503
    assert not app.state.coordinator.started


def test_probes_and_metrics(client: TestClient) -> None:
    """Liveness, readiness and /metrics answer; the update counter is exported."""
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert "flead_updates_total" in client.get("/metrics").text
