"""The aggregator's TokenReview authentication on the bed's API server, with tokens minted for
test ServiceAccounts (TokenRequest API) and the chart's aggregator RBAC: every refusal case."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fastapi.testclient import TestClient

from flead.federation import Update, bundle_blob
from flead_aggregator.app import create_app
from flead_aggregator.settings import load_settings
from flead_operator.records import DeviceRecord
from flead_operator.specs import assignment_configmap, trainer_serviceaccount
from tests.cluster.operator.proxy import CuttableProxy
from tests.support.testbed import REPO, STATE, kubectl, run, unique, wait_until
from tests.unit.services.aggregator.helpers import SPEC, blob, weights, zero_store

pytestmark = pytest.mark.cluster

AUDIENCE = "flead-aggregator"
RELEASE = "flead"
AGGREGATOR_SA = "flead-aggregator"  # <fullname>-aggregator; fullname = release "flead"


def _devices(namespace: str, ids: list[str], paused: tuple[str, ...] = ()) -> list[DeviceRecord]:
    return [DeviceRecord(f"mote-{d}", namespace, d, None, None, d in paused, 1) for d in ids]


def _apply(obj: dict[str, Any]) -> None:
    kubectl("apply", "--server-side", "--field-manager=flead-operator", "-f", "-",
            input=json.dumps(obj))  # fmt: skip


def mint(namespace: str, sa: str, audience: str | None = AUDIENCE, *extra: str) -> str:
    """A token of `sa` from the TokenRequest API (audience None: the API server's own)."""
    args = ["create", "token", sa, "-n", namespace, "--duration=10m"]
    args += [f"--audience={audience}"] if audience else []
    return kubectl(*args, *extra).stdout.strip()


def render_aggregator_rbac(namespace: str) -> str:
    """The chart's aggregator ServiceAccount and RBAC, as `helm template --show-only` renders them."""
    helm = os.environ.get("HELM", "helm")
    args = [helm, "template", RELEASE, str(REPO / "charts/flead"), "--namespace", namespace]
    args += ["--kube-version", "1.34.0", "--show-only", "templates/aggregator-rbac.yaml"]
    return run(args).stdout


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def forge_expired(namespace: str, sa: str, uid: str, expired: bool = True) -> str:
    """A token signed with the bed's own service-account key (as the API server signs), for
    `sa`, audience flead-aggregator, that expired an hour ago (or, `expired=False`, is valid:
    the control that the signing is right, so the refusal is the expiry's)."""
    key = serialization.load_pem_private_key((STATE / "pki/sa.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    start = now - 7200 if expired else now - 60
    claims = {
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": f"system:serviceaccount:{namespace}:{sa}",
        "aud": [AUDIENCE],
        "iat": start,
        "nbf": start,
        "exp": now - 3600 if expired else now + 600,
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": sa, "uid": uid}},
    }
    header = {"alg": "ES256", "kid": _b64(hashlib.sha256(public).digest()), "typ": "JWT"}
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(key.sign(signing.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class Bed:
    """Two namespaces of trainer identities made by the operator's own spec builders, and
    the aggregator's token under the chart's RBAC."""

    def __init__(self, tmp: Path) -> None:
        self.ns, self.other = unique("flead-auth"), unique("flead-auth-other")
        for ns in (self.ns, self.other):
            kubectl("create", "namespace", ns)
        self.rbac = render_aggregator_rbac(self.ns)
        kubectl("apply", "-f", "-", input=self.rbac)
        for group, ids in (("p0-3", ["1", "2", "3"]), ("p4-7", ["5"])):
            _apply(trainer_serviceaccount(self.ns, group))
            devices = _devices(self.ns, ids, paused=("3",))
            _apply(assignment_configmap(self.ns, group, devices))
        _apply(trainer_serviceaccount(self.other, "p0-3"))
        _apply(assignment_configmap(self.other, "p0-3", _devices(self.other, ["1"])))
        for sa in ("intruder", "doomed", "ops"):
            kubectl("create", "serviceaccount", sa, "-n", self.ns)
        self.token_file = tmp / "aggregator.token"
        self.token_file.write_text(mint(self.ns, AGGREGATOR_SA, None))
        cfg = json.loads(kubectl("config", "view", "--raw", "-o", "json").stdout)
        self.api = cfg["clusters"][0]["cluster"]["server"]
        self.ca = cfg["clusters"][0]["cluster"]["certificate-authority"]

    def uid(self, sa: str) -> str:
        return kubectl("get", "sa", sa, "-n", self.ns, "-o", "jsonpath={.metadata.uid}").stdout

    def app(self, api: str | None = None, **overrides: Any) -> TestClient:
        settings = load_settings(
            aggregator_auth="serviceaccount",
            aggregator_kube_api_url=api or self.api,
            aggregator_kube_token_file=str(self.token_file),
            aggregator_kube_ca_file=self.ca,
            aggregator_trainer_namespace=self.ns,
            aggregator_admins=f"system:serviceaccount:{self.ns}:ops",
            aggregator_min_updates=100,
            aggregator_round_timeout_seconds=3600,
            **overrides,
        )
        return TestClient(create_app(settings, store=zero_store(), spec=SPEC))

    def close(self) -> None:
        kubectl("delete", "-f", "-", "--wait=false", input=self.rbac, check=False)
        for ns in (self.ns, self.other):
            kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture(scope="module")
def bed(
    read_testbed_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bed]:
    b = Bed(tmp_path_factory.mktemp("auth"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def client(bed: Bed) -> Iterator[TestClient]:
    with bed.app() as c:
        for _ in range(100):
            if c.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        yield c


def post(c: TestClient, token: str | None, body: bytes, key: str) -> Any:
    headers = {"Content-Type": "application/octet-stream", "Idempotency-Key": key}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return c.post("/api/local-update", content=body, headers=headers)


def _detail(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["detail"]["reason"]


def _per_device(*devices: str, via: str = "p0-3") -> bytes:
    return bundle_blob(
        [Update(f"u-{d}-{via}-{time.time_ns()}", d, 10, 0, weights(), via=via) for d in devices]
    )


def test_chart_rbac_allows_the_reviews_and_nothing_more(bed: Bed) -> None:
    """The aggregator's ServiceAccount may create TokenReviews and get ServiceAccounts and
    ConfigMaps of its namespace; no list, no secrets, nothing in another namespace."""
    user = f"system:serviceaccount:{bed.ns}:{AGGREGATOR_SA}"

    def can(*args: str) -> bool:
        out = kubectl("auth", "can-i", *args, "--as", user, check=False).stdout.strip()
        return out == "yes"

    assert can("create", "tokenreviews.authentication.k8s.io")
    assert can("get", "serviceaccounts", "-n", bed.ns)
    assert can("get", "configmaps", "-n", bed.ns)
    assert not can("list", "configmaps", "-n", bed.ns)
    assert not can("get", "secrets", "-n", bed.ns)
    assert not can("get", "configmaps", "-n", bed.other)
    assert not can("create", "subjectaccessreviews.authorization.k8s.io")
    assert not can("create", "serviceaccounts/token", "-n", bed.ns)


def test_a_trainer_submits_for_its_own_group_and_reads_the_model(
    bed: Bed, client: TestClient
) -> None:
    """Its partial aggregate (3 devices in its ConfigMap, 3 paused but still its own) and
    per-device updates of its devices, the paused one too, are accepted; it reads the global
    model; the review is cached."""
    token = mint(bed.ns, "flead-trainer-p0-3")
    assert post(client, token, blob("p0-3", devices=3), "own-1").status_code == 202
    assert post(client, token, _per_device("1", "2", "3"), "own-2").status_code == 202
    model = client.get("/api/global-model", headers={"Authorization": f"Bearer {token}"})
    assert model.status_code == 200
    authenticator = client.app.state.authenticator  # type: ignore[attr-defined]
    reviews = authenticator.reviews
    assert post(client, token, blob("p0-3", devices=1), "own-3").status_code == 202
    assert authenticator.reviews == reviews  # cached


def test_updates_outside_the_group_are_403(bed: Bed, client: TestClient) -> None:
    """Another group's device, more devices than assigned, posing as another group: 403
    not_assigned with the identity's group in the message."""
    token = mint(bed.ns, "flead-trainer-p0-3")
    cases = {
        "other-device": _per_device("5"),
        "too-many": blob("p0-3", devices=4),
        "other-group": blob("p4-7", devices=1),
        "other-via": _per_device("1", via="p4-7"),
    }
    for key, body in cases.items():
        response = post(client, token, body, key)
        assert _detail(response) == (403, "not_assigned"), key
        assert "p0-3" in response.json()["detail"]["message"]
    other = mint(bed.ns, "flead-trainer-p4-7")
    assert _detail(post(client, other, blob("p0-3", devices=1), "p47")) == (403, "not_assigned")
    assert post(client, other, blob("p4-7", devices=1), "p47-own").status_code == 202


def test_other_namespace_and_non_trainer_identities_are_403(bed: Bed, client: TestClient) -> None:
    """A valid flead-aggregator token of a trainer in another namespace, or of a ServiceAccount
    the operator did not make: 403, also for reading the model."""
    foreign = mint(bed.other, "flead-trainer-p0-3")
    assert _detail(post(client, foreign, blob("p0-3"), "foreign")) == (403, "other_namespace")
    intruder = mint(bed.ns, "intruder")
    assert _detail(post(client, intruder, blob("1"), "intruder")) == (403, "not_a_trainer")
    read = client.get("/api/global-model", headers={"Authorization": f"Bearer {intruder}"})
    assert _detail(read) == (403, "not_a_trainer")
    trainer = mint(bed.ns, "flead-trainer-p0-3")
    admin = {"Authorization": f"Bearer {trainer}"}
    assert _detail(client.post("/api/aggregate", headers=admin)) == (403, "admin_only")
    ops = {"Authorization": f"Bearer {mint(bed.ns, 'ops')}"}
    assert client.post("/api/aggregate", headers=ops).status_code == 200


def test_expired_wrong_audience_and_unknown_tokens_are_401(bed: Bed, client: TestClient) -> None:
    """Expired (signed with the bed's key), minted for another audience, for a deleted
    ServiceAccount, bound to a deleted Secret, garbage, none: 401 with a Bearer challenge."""
    uid = bed.uid("flead-trainer-p0-3")
    control = forge_expired(bed.ns, "flead-trainer-p0-3", uid, expired=False)
    assert post(client, control, blob("p0-3"), "forged-valid").status_code == 202
    expired = forge_expired(bed.ns, "flead-trainer-p0-3", uid)
    response = post(client, expired, blob("p0-3"), "expired")
    assert _detail(response) == (401, "invalid_token")
    assert response.headers["www-authenticate"] == "Bearer"
    wrong = mint(bed.ns, "flead-trainer-p0-3", "another-service")
    assert post(client, wrong, blob("p0-3"), "audience").status_code == 401
    doomed = mint(bed.ns, "doomed")
    kubectl("delete", "serviceaccount", "doomed", "-n", bed.ns)
    time.sleep(1.0)
    assert post(client, doomed, blob("1"), "doomed").status_code == 401
    kubectl("create", "secret", "generic", "binding", "-n", bed.ns)
    bound = mint(bed.ns, "flead-trainer-p0-3", AUDIENCE, "--bound-object-kind=Secret",
                 "--bound-object-name=binding")  # fmt: skip
    assert post(client, bound, blob("p0-3"), "bound-ok").status_code == 202
    kubectl("delete", "secret", "binding", "-n", bed.ns)
    with bed.app(aggregator_auth_cache_seconds=0) as c:  # no cached review of `bound`
        # The API server's object cache learns of the deletion within moments.
        wait_until(
            "the token bound to the deleted Secret to be refused",
            lambda: post(c, bound, blob("p0-3"), f"revoked-{time.time_ns()}").status_code == 401,
            timeout=30,
        )
    assert post(client, "not-a-token", blob("p0-3"), "garbage").status_code == 401
    assert post(client, None, blob("p0-3"), "none").status_code == 401
    metrics = client.get("/metrics").text
    assert 'flead_auth_total{outcome="unauthenticated"}' in metrics


def test_api_server_unreachable_is_503_with_retry_after(bed: Bed) -> None:
    """The API server cut off: 503 + Retry-After and nothing accepted (not even a token that
    was fine before, once its cache entry is gone); back: accepted again."""
    parsed = urlparse(bed.api)
    proxy = CuttableProxy((parsed.hostname or "127.0.0.1", parsed.port or 443)).restore()
    token = mint(bed.ns, "flead-trainer-p0-3")
    app = bed.app(api=f"https://127.0.0.1:{proxy.port}", aggregator_auth_cache_seconds=0,
                  aggregator_auth_timeout_seconds=2.0)  # fmt: skip
    with app as c:
        assert post(c, token, blob("p0-3"), "before").status_code == 202
        proxy.cut()
        try:
            response = post(c, token, blob("p0-3"), "during")
            assert _detail(response) == (503, "auth_unavailable")
            assert response.headers["retry-after"] == "5"
            read = c.get("/api/global-model", headers={"Authorization": f"Bearer {token}"})
            assert read.status_code == 503
            assert c.get("/api/status").json()["pending_updates"] == 1  # nothing accepted
        finally:
            proxy.restore()
        assert post(c, token, blob("p0-3"), "after").status_code == 202
        assert 'flead_auth_total{outcome="unavailable"}' in c.get("/metrics").text
