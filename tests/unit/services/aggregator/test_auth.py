"""Identity and authorisation logic of the aggregator: token claims, group membership of
updates, refusals mapped to 401/403/503, and the wiring of the endpoints to an authenticator."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from flead.federation import Update, bundle_blob
from flead_aggregator.auth import (
    Identity,
    Refused,
    StaticAuthenticator,
    assigned_devices,
    forbidden_update,
    serviceaccount_of,
    token_expiry,
)
from flead_aggregator.settings import load_settings
from tests.unit.services.aggregator.helpers import blob, make_app, weights

pytestmark = pytest.mark.unit

TRAINER = Identity(
    "system:serviceaccount:lab:flead-trainer-p0-3",
    trainer=True,
    group="p0-3",
    devices=frozenset({"1", "2"}),
)


def _update(sender: str, devices: int = 1, via: str = "") -> Update:
    return Update(f"id-{sender}-{via}", sender, 10, 0, weights(), devices=devices, via=via)


def _jwt(claims: dict) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


def test_serviceaccount_user_names() -> None:
    """Only system:serviceaccount:<ns>:<name> is a ServiceAccount."""
    assert serviceaccount_of("system:serviceaccount:lab:flead-trainer-p0-3") == (
        "lab",
        "flead-trainer-p0-3",
    )
    assert serviceaccount_of("system:admin") is None
    assert serviceaccount_of("system:serviceaccount:lab") is None
    assert serviceaccount_of("system:serviceaccount:lab:a:b") is None


def test_token_expiry_is_read_without_trusting_the_token() -> None:
    """The exp claim bounds the cache; anything unreadable gives None (the review decides)."""
    assert token_expiry(_jwt({"exp": 1700000000})) == 1700000000.0
    assert token_expiry(_jwt({"sub": "x"})) is None
    assert token_expiry(_jwt({"exp": True})) is None
    assert token_expiry("not-a-jwt") is None
    assert token_expiry("a.!!!.c") is None


def test_assigned_devices_are_the_group_configmaps() -> None:
    """Every device of the group ConfigMap, paused ones included (their trainer keeps their
    state); a broken document assigns nothing."""
    doc = {"version": 1, "devices": {"1": {"paused": False}, "2": {"paused": True}, "3": {}}}
    assert assigned_devices({"data": {"devices.json": json.dumps(doc)}}) == {"1", "2", "3"}
    assert assigned_devices({"data": {"devices.json": "{"}}) == frozenset()
    assert assigned_devices({}) == frozenset()


def test_a_trainer_may_send_its_groups_partial_aggregate() -> None:
    """sender = its group, counting at most its assigned devices."""
    assert forbidden_update(TRAINER, [_update("p0-3", devices=2)]) is None
    why = forbidden_update(TRAINER, [_update("p0-3", devices=3)])
    assert why is not None
    assert "2 assigned devices" in why


def test_a_trainer_may_send_per_device_updates_of_assigned_devices_only() -> None:
    """via = its group and sender = an assigned device; another device or group is refused."""
    assert forbidden_update(TRAINER, [_update("1", via="p0-3"), _update("2", via="p0-3")]) is None
    assert "device '9'" in (forbidden_update(TRAINER, [_update("9", via="p0-3")]) or "")
    assert "not 'p4-7'" in (forbidden_update(TRAINER, [_update("1", via="p4-7")]) or "")
    assert "device 'p4-7'" in (forbidden_update(TRAINER, [_update("p4-7", devices=5)]) or "")
    assert "count 1 device" in (forbidden_update(TRAINER, [_update("1", devices=2)]) or "")
    mixed = [_update("1", via="p0-3"), _update("7", via="p0-3")]
    assert forbidden_update(TRAINER, mixed) is not None  # one bad entry refuses the bundle


def test_static_and_admin_identities_are_not_restricted_to_a_group() -> None:
    """The static token may send anything (the local stack); an admin name that is no trainer
    may not send updates."""
    static = StaticAuthenticator("t").authenticate("t")
    assert forbidden_update(static, [_update("anything", devices=99)]) is None
    assert forbidden_update(Identity("someone"), [_update("1")]) is not None


def test_refusals_carry_status_reason_and_headers() -> None:
    """401 challenges, 503 says when to retry, every refusal names its reason and outcome."""
    unauth = Refused(401, "invalid_token", "expired").http()
    assert unauth.status_code == 401
    assert unauth.headers == {"WWW-Authenticate": "Bearer"}
    busy = Refused(503, "auth_unavailable", "down")
    assert busy.http().headers == {"Retry-After": "5"}
    assert busy.outcome == "unavailable"
    assert Refused(403, "not_assigned", "x").outcome == "forbidden"
    assert Refused(403, "x", "y").http().detail == {"reason": "x", "message": "y"}


class Stub:
    """Stands in for the TokenReview authenticator: fixed answers per token."""

    def __init__(self, answers: dict[str, Identity | Refused]) -> None:
        self.answers = answers

    def authenticate(self, token: str | None) -> Identity:
        answer = self.answers.get(token or "", Refused(401, "unauthenticated", "no token"))
        if isinstance(answer, Refused):
            raise answer
        return answer


@pytest.fixture
def sa_client() -> TestClient:
    """An app in serviceaccount mode whose authenticator answers from a table."""
    app, _ = make_app(aggregator_auth="serviceaccount", aggregator_token=None)
    app.state.authenticator = Stub(
        {
            "trainer": TRAINER,
            "other": Identity(
                "system:serviceaccount:lab:flead-trainer-p4-7",
                trainer=True,
                group="p4-7",
                devices=frozenset({"5"}),
            ),
            "admin": Identity("system:serviceaccount:lab:ops", admin=True),
            "down": Refused(503, "auth_unavailable", "API server unreachable"),
        }
    )
    with TestClient(app) as c:
        for _ in range(50):
            if c.get("/readyz").status_code == 200:
                break
        yield c


def _post(c: TestClient, token: str, body: bytes, key: str = "") -> int:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    if key:
        headers["Idempotency-Key"] = key
    return c.post("/api/local-update", content=body, headers=headers).status_code


def test_endpoints_apply_the_identity(sa_client: TestClient) -> None:
    """A trainer's own partial aggregate is accepted; another group's trainer gets 403 with the
    reason; the global model needs a trainer; aggregating needs an admin; 503 keeps Retry-After."""
    c = sa_client
    assert _post(c, "trainer", blob("p0-3", devices=2), "u1") == 202
    r = c.post(
        "/api/local-update",
        content=blob("p0-3", devices=2),
        headers={"Authorization": "Bearer other", "Idempotency-Key": "u2"},
    )
    assert r.status_code == 403
    assert r.json()["detail"]["reason"] == "not_assigned"
    assert "p4-7" in r.json()["detail"]["message"]
    bundle = bundle_blob([_update("1", via="p0-3"), _update("2", via="p0-3")])
    assert _post(c, "trainer", bundle) in (200, 202)
    down = c.post("/api/local-update", content=blob(), headers={"Authorization": "Bearer down"})
    assert down.status_code == 503
    assert down.headers["retry-after"] == "5"
    assert c.get("/api/global-model").status_code == 401
    assert c.get("/api/global-model", headers={"Authorization": "Bearer other"}).status_code == 200
    assert c.post("/api/aggregate", headers={"Authorization": "Bearer trainer"}).status_code == 403
    assert c.post("/api/aggregate", headers={"Authorization": "Bearer admin"}).status_code == 200
    metrics = c.get("/metrics").text
    for outcome in ("allowed", "unauthenticated", "forbidden", "unavailable"):
        assert f'flead_auth_total{{outcome="{outcome}"}}' in metrics


def test_mode_defaults_to_serviceaccount_in_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    """KUBERNETES_SERVICE_HOST set (a pod): serviceaccount; elsewhere static; explicit wins."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert load_settings().aggregator_auth == "static"
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert load_settings().aggregator_auth == "serviceaccount"
    monkeypatch.setenv("FLEAD_AGGREGATOR_AUTH", "static")
    assert load_settings().aggregator_auth == "static"


def test_static_mode_keeps_the_global_model_open() -> None:
    """The local process stack reads the model without a token, as before."""
    app, _ = make_app()
    with TestClient(app) as c:
        for _ in range(50):
            if c.get("/readyz").status_code == 200:
                break
        assert c.get("/api/global-model").status_code == 200
