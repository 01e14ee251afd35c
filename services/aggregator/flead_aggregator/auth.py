"""Who may call the aggregator: a static bearer token, or trainers' ServiceAccount tokens (TokenReview)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from fastapi import HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import Counter

from flead.federation import Update
from flead.logging import get_logger

__all__ = [
    "AUTH_TOTAL",
    "GROUP_LABEL",
    "Authenticator",
    "Identity",
    "Refused",
    "StaticAuthenticator",
    "TokenReviewAuthenticator",
    "assigned_devices",
    "authenticator_for",
    "bearer",
    "check_token",
    "forbidden_update",
    "serviceaccount_of",
    "token_expiry",
]

log = get_logger(__name__)
bearer = HTTPBearer(
    auto_error=False, description="trainer ServiceAccount token or FLEAD_AGGREGATOR_TOKEN"
)

AUTH_TOTAL = Counter(
    "flead_auth", "Requests that needed an identity, by outcome of authentication and authorisation",
    ["outcome"],
)  # fmt: skip
OUTCOMES = ("allowed", "unauthenticated", "forbidden", "unavailable")
for _outcome in OUTCOMES:
    AUTH_TOTAL.labels(_outcome)

GROUP_LABEL = "flead.io/partition-group"  # written by the operator on each trainer's ServiceAccount
MANAGED_BY = ("app.kubernetes.io/managed-by", "flead-operator")
SA_PREFIX = "system:serviceaccount:"
IN_CLUSTER = Path("/var/run/secrets/kubernetes.io/serviceaccount")
RETRY_AFTER_SECONDS = 5


class Refused(Exception):  # noqa: N818 -- a refusal, not a failure of the aggregator
    """A request refused: 401 (who are you?), 403 (not allowed) or 503 (cannot tell now)."""

    def __init__(self, code: int, reason: str, message: str, who: str = "") -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code, self.reason, self.message, self.who = code, reason, message, who

    @property
    def outcome(self) -> str:
        """The flead_auth_total label of this refusal."""
        return {401: "unauthenticated", 403: "forbidden"}.get(self.code, "unavailable")

    def http(self) -> HTTPException:
        """The HTTP answer: the reason in the body, WWW-Authenticate / Retry-After headers."""
        headers = {
            401: {"WWW-Authenticate": "Bearer"},
            503: {"Retry-After": str(RETRY_AFTER_SECONDS)},
        }.get(self.code)
        detail = {"reason": self.reason, "message": self.message}
        return HTTPException(self.code, detail=detail, headers=headers)


@dataclass(frozen=True)
class Identity:
    """An authenticated caller. `group` None with `trainer` False: the static token (anything
    goes); a trainer may send updates only for `devices` of its partition `group`."""

    name: str  # system:serviceaccount:<ns>:<sa>, or "static-token"
    trainer: bool = False
    admin: bool = False
    group: str | None = None
    devices: frozenset[str] = field(default_factory=frozenset)


class Authenticator(Protocol):
    """Turns a bearer token into an Identity or raises Refused."""

    def authenticate(self, token: str | None) -> Identity:
        """The identity behind `token` (blocking: call it from a worker thread)."""
        ...


def check_token(expected: str | None, credentials: HTTPAuthorizationCredentials | None) -> None:
    """Raise 401/403 unless the credentials carry the expected bearer token."""
    try:
        StaticAuthenticator(expected).authenticate(credentials.credentials if credentials else None)
    except Refused as exc:
        raise exc.http() from None


def _missing() -> Refused:
    return Refused(401, "unauthenticated", "Authorization: Bearer <token> required")


class StaticAuthenticator:
    """The local process stack's mode: one shared token (FLEAD_AGGREGATOR_TOKEN) may do anything."""

    def __init__(self, expected: str | None) -> None:
        self.expected = expected

    def authenticate(self, token: str | None) -> Identity:
        """401 without a token, 403 with a wrong one or when none is configured."""
        if not token:
            raise _missing()
        if self.expected is None:
            raise Refused(403, "writes_disabled", "FLEAD_AGGREGATOR_TOKEN is not set")
        if not secrets.compare_digest(token.encode(), self.expected.encode()):
            raise Refused(403, "forbidden", "wrong token")
        return Identity("static-token", admin=True)


def serviceaccount_of(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a ServiceAccount user name, None for any other user."""
    if not username.startswith(SA_PREFIX):
        return None
    namespace, _, name = username.removeprefix(SA_PREFIX).partition(":")
    return (namespace, name) if namespace and name and ":" not in name else None


def token_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT, read WITHOUT checking it (only to bound how long a review is
    cached; the TokenReview is what checks the token). None when it is not a readable JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def assigned_devices(configmap: Mapping[str, Any]) -> frozenset[str]:
    """The device ids the operator assigned to a group: every entry of its device ConfigMap,
    the paused ones on its partitions too (the trainer keeps their state, and an update it
    built just before the pause must not be refused for ever while it is retried)."""
    raw = (configmap.get("data") or {}).get("devices.json", "")
    try:
        devices = json.loads(raw).get("devices", {}) if raw else {}
    except (ValueError, AttributeError):
        return frozenset()
    return frozenset(devices) if isinstance(devices, dict) else frozenset()


def forbidden_update(identity: Identity, updates: Iterable[Update]) -> str | None:
    """Why `identity` may not submit these updates, or None when it may.

    A trainer sends either one partial aggregate of its group (sender = the group, `devices`
    at most the group's device count) or per-device updates (sender = an assigned device, via =
    the group). Anything naming another group or device, or counting more devices, is refused.
    """
    if not identity.trainer:
        return None if identity.admin else f"{identity.name} is not a trainer"
    group, devices = identity.group, identity.devices
    for u in updates:
        if u.via and u.via != group:
            return f"{identity.name} serves group {group}, not {u.via!r}"
        if not u.via and u.sender == group:
            if u.devices > len(devices):
                return (
                    f"group {group} has {len(devices)} assigned devices; "
                    f"the update counts {u.devices}"
                )
            continue
        if u.sender not in devices:
            return f"device {u.sender!r} is not assigned to group {group}"
        if u.devices != 1:
            return f"a per-device update of {u.sender!r} must count 1 device, not {u.devices}"
    return None


@dataclass
class _Cached:
    until: float
    identity: Identity | None = None
    refusal: Refused | None = None


class TokenReviewAuthenticator:
    """ServiceAccount tokens checked with the API server's TokenReview (audience bound), then
    mapped to a partition group through the operator's objects: the ServiceAccount's group label
    and the group's device ConfigMap. Nothing the client sends chooses the group.

    Results (refusals too, but never "unavailable") are cached by token digest for
    `cache_seconds`, never past the token's own expiry; at most `max_reviews` reviews run at
    once, and a request that cannot get a slot within the timeout is answered 503.
    """

    def __init__(
        self,
        api_url: str,
        token_file: str,
        ca_file: str,
        audience: str,
        namespace: str,
        *,
        cache_seconds: float = 10.0,
        max_reviews: int = 8,
        timeout: float = 5.0,
        admins: Iterable[str] = (),
    ) -> None:
        self.api_url, self.token_file = api_url.rstrip("/"), token_file
        self.audience, self.namespace = audience, namespace
        self.cache_seconds, self.timeout = cache_seconds, timeout
        self.admins = frozenset(admins)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per review call
        verify: str | bool = ca_file if ca_file else True
        self.http = httpx.Client(base_url=self.api_url, verify=verify, timeout=timeout)
        self._slots = threading.BoundedSemaphore(max_reviews)
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self.reviews = 0  # TokenReviews sent (tests, debugging)

    def authenticate(self, token: str | None) -> Identity:
        """The trainer (or admin) behind `token`; Refused(401/403/503) otherwise."""
        if not token:
            raise _missing()
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.time()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit.until <= now:
                del self._cache[key]
                hit = None
        if hit is None:
            hit = self._resolve(token)
            until = now + self.cache_seconds
            exp = token_expiry(token)
            hit.until = min(until, exp) if exp is not None else until
            with self._lock:
                if len(self._cache) > 10_000:  # bounded: old entries go first
                    self._cache = {k: v for k, v in self._cache.items() if v.until > now}
                self._cache[key] = hit
        if hit.refusal is not None:
            raise hit.refusal
        assert hit.identity is not None
        return hit.identity

    def _resolve(self, token: str) -> _Cached:
        """Review the token and look its group up; Refused(503) propagates (never cached)."""
        try:
            return _Cached(0.0, identity=self._identity(token))
        except Refused as exc:
            if exc.code == 503:
                raise
            return _Cached(0.0, refusal=exc)

    def _identity(self, token: str) -> Identity:
        user = self._review(token)
        name = str(user.get("username", ""))
        if name in self.admins:
            return Identity(name, admin=True)
        sa = serviceaccount_of(name)
        if sa is None:
            raise Refused(403, "not_a_trainer", f"{name} is not a ServiceAccount", name)
        namespace, account = sa
        if namespace != self.namespace:
            raise Refused(
                403,
                "other_namespace",
                f"{name}: trainers of namespace {self.namespace} only",
                name,
            )
        body = self._get(f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}")
        if body is None or body.get("metadata", {}).get("uid") != user.get("uid"):
            raise Refused(401, "unknown_serviceaccount", f"{name} does not exist", name)
        labels = body.get("metadata", {}).get("labels") or {}
        group = labels.get(GROUP_LABEL)
        if not group or labels.get(MANAGED_BY[0]) != MANAGED_BY[1]:
            raise Refused(
                403, "not_a_trainer", f"{name} is not a trainer identity of flead-operator", name
            )
        cm = self._get(f"/api/v1/namespaces/{namespace}/configmaps/flead-trainer-{group}-devices")
        devices = assigned_devices(cm) if cm is not None else frozenset()
        return Identity(name, trainer=True, group=group, devices=devices)

    def _review(self, token: str) -> Mapping[str, Any]:
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token, "audiences": [self.audience]},
        }
        answer = self._call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body)
        assert answer is not None
        self.reviews += 1
        review = answer.get("status") or {}
        if not review.get("authenticated"):
            error = str(review.get("error") or "token not authenticated")
            raise Refused(401, "invalid_token", error[:300])
        if self.audience not in (review.get("audiences") or []):
            raise Refused(401, "wrong_audience", f"token is not for audience {self.audience}")
        user = review.get("user") or {}
        return user if isinstance(user, dict) else {}

    def _get(self, path: str) -> dict[str, Any] | None:
        return self._call("GET", path, None)

    def _call(self, method: str, path: str, body: Any) -> dict[str, Any] | None:
        """One API call with the aggregator's own (re-read, rotated) token; 404 -> None."""
        if not self._slots.acquire(timeout=self.timeout):
            raise Refused(503, "auth_busy", "too many token reviews in flight")
        try:
            own = Path(self.token_file).read_text().strip() if self.token_file else ""
            headers = {"Authorization": f"Bearer {own}"} if own else {}
            response = self.http.request(method, path, json=body, headers=headers)
        except (OSError, httpx.HTTPError) as exc:
            why = f"API server unreachable: {type(exc).__name__}"
            raise Refused(503, "auth_unavailable", why) from None
        finally:
            self._slots.release()
        if response.status_code == 404 and method == "GET":
            return None
        if response.status_code >= 300:
            raise Refused(
                503, "auth_unavailable", f"API server answered {response.status_code} to {method}"
            )
        answer: dict[str, Any] = response.json()
        return answer

    def close(self) -> None:
        """Release the connection pool."""
        self.http.close()


def _in_cluster(name: str, default: str) -> str:
    path = IN_CLUSTER / name
    try:
        return path.read_text().strip() or default
    except OSError:
        return default


def authenticator_for(s: Any) -> Authenticator:
    """The authenticator the settings (AggregatorSettings) choose."""
    if s.aggregator_auth == "static":
        return StaticAuthenticator(s.token)
    url = s.aggregator_kube_api_url
    if not url:
        host, port = (
            os.environ.get("KUBERNETES_SERVICE_HOST"),
            os.environ.get("KUBERNETES_SERVICE_PORT", "443"),
        )
        if not host:
            raise ValueError("FLEAD_AGGREGATOR_KUBE_API_URL is required outside a cluster")
        url = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    return TokenReviewAuthenticator(
        url,
        s.aggregator_kube_token_file,
        s.aggregator_kube_ca_file,
        s.aggregator_token_audience,
        s.aggregator_trainer_namespace or _in_cluster("namespace", "default"),
        cache_seconds=s.aggregator_auth_cache_seconds,
        max_reviews=s.aggregator_auth_max_reviews,
        timeout=s.aggregator_auth_timeout_seconds,
        admins=s.admin_identities,
    )
