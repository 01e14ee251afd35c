"""HTTP transport of a trainer's `Participant`: POST updates (binary, idempotent), GET versions."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path

import httpx

from flead.federation import ModelVersion, Outcome, Update, bundle_blob, etag_of
from flead.logging import get_logger
from flead.wire import WireError

__all__ = ["AggregatorClient", "BearerToken", "retry_after_seconds"]

log = get_logger(__name__)


class BearerToken(httpx.Auth):
    """`Authorization: Bearer` from a fixed token, or from a file read before every request (a
    projected ServiceAccount token the kubelet rotates in place). An unreadable file sends no
    token: the aggregator answers 401 and the update is kept and retried."""

    def __init__(self, token: str | None, token_file: str = "") -> None:
        self.token, self.token_file = token, token_file
        self._warned = False

    def current(self) -> str | None:
        """The token to send now."""
        if not self.token_file:
            return self.token
        try:
            token = Path(self.token_file).read_text().strip()
        except OSError as exc:
            if not self._warned:
                log.warning("cannot read the token file", path=self.token_file, error=str(exc))
                self._warned = True
            return None
        self._warned = False
        return token or None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the header (httpx calls this for every request)."""
        token = self.current()
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request


class AggregatorClient:
    """Talks to POST /api/local-update and GET /api/global-model; never raises on network errors."""

    def __init__(
        self, url: str, token: str | None, timeout: float = 3.0, token_file: str = ""
    ) -> None:
        self.http = httpx.Client(
            base_url=url.rstrip("/"), auth=BearerToken(token, token_file), timeout=timeout
        )
        self.retry_after: float | None = None  # seconds the last refusal asked us to wait

    def send(self, update: Update) -> Outcome:
        """POST one update (its id as the Idempotency-Key)."""
        return self._post(update.to_blob(), {"Idempotency-Key": update.update_id}, update.update_id)

    def send_many(self, updates: Sequence[Update]) -> Outcome:
        """POST a bundle of updates in one request (each entry carries its own id)."""
        return self._post(bundle_blob(updates), {}, updates[0].update_id)

    def _post(self, body: bytes, extra: dict[str, str], update_id: str) -> Outcome:
        headers = {"Content-Type": "application/octet-stream", **extra}
        try:
            response = self.http.post("/api/local-update", content=body, headers=headers)
        except httpx.HTTPError:
            self.retry_after = None
            return Outcome.ERROR
        self.retry_after = retry_after_seconds(response)
        if response.status_code == 202:
            return Outcome.ACCEPTED
        if response.status_code == 200:
            return Outcome.DUPLICATE
        if response.status_code == 422:
            detail = response.json().get("detail", {})
            log.warning("update refused", update_id=update_id, **detail)
            return Outcome.STALE if detail.get("reason") == "stale" else Outcome.REJECTED
        _refused(response, "update not accepted")
        return Outcome.ERROR  # 401/403/503 too: the samples stay and are sent again

    def fetch(self, have: int | None) -> ModelVersion | None:
        """The current version unless it is `have` (If-None-Match); None when unreachable."""
        headers = {"If-None-Match": etag_of(have)} if have is not None else {}
        try:
            response = self.http.get("/api/global-model", headers=headers)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            if response.status_code != 304:
                _refused(response, "global model not served")
            return None
        try:
            return ModelVersion.from_blob(response.content)
        except WireError as exc:
            log.warning("bad global model", error=str(exc))
            return None

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()


def retry_after_seconds(response: httpx.Response) -> float | None:
    """A 429/503's `Retry-After` in seconds (the delay form; an HTTP date or junk: None)."""
    if response.status_code not in (429, 503):
        return None
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def _refused(response: httpx.Response, what: str) -> None:
    """Log an authentication / authorisation / availability refusal with the server's reason."""
    if response.status_code in (401, 403, 503):
        try:
            detail = response.json().get("detail", {})
        except ValueError:
            detail = {}
        reason = detail.get("reason", "") if isinstance(detail, dict) else ""
        message = detail.get("message", "") if isinstance(detail, dict) else str(detail)
        log.warning(what, status=response.status_code, reason=reason, message=message)
