"""HTTP transport of a trainer's `Participant`: POST updates (binary, idempotent), GET versions."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from flead.federation import ModelVersion, Outcome, Update, bundle_blob, etag_of
from flead.logging import get_logger
from flead.wire import WireError

__all__ = ["AggregatorClient"]

log = get_logger(__name__)


class AggregatorClient:
    """Talks to POST /api/local-update and GET /api/global-model; never raises on network errors."""

    def __init__(self, url: str, token: str | None, timeout: float = 3.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

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
            return Outcome.ERROR
        if response.status_code == 202:
            return Outcome.ACCEPTED
        if response.status_code == 200:
            return Outcome.DUPLICATE
        if response.status_code == 422:
            detail = response.json().get("detail", {})
            log.warning("update refused", update_id=update_id, **detail)
            return Outcome.STALE if detail.get("reason") == "stale" else Outcome.REJECTED
        return Outcome.ERROR

    def fetch(self, have: int | None) -> ModelVersion | None:
        """The current version unless it is `have` (If-None-Match); None when unreachable."""
        headers = {"If-None-Match": etag_of(have)} if have is not None else {}
        try:
            response = self.http.get("/api/global-model", headers=headers)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            return ModelVersion.from_blob(response.content)
        except WireError as exc:
            log.warning("bad global model", error=str(exc))
            return None

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()
