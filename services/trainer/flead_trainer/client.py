"""HTTP client of the aggregator: send local updates (binary, idempotent) and fetch new global models."""

from __future__ import annotations

import math
from dataclasses import dataclass

import httpx
import numpy as np

from flead.model import LocalUpdate
from flead.wire import WireError, decode_arrays, encode_arrays

__all__ = ["AggregatorClient", "GlobalModel"]


@dataclass(frozen=True)
class GlobalModel:
    """A global version as served, with its ETag."""

    weights: list[np.ndarray]
    version: int
    etag: str


class AggregatorClient:
    """Talks to POST /api/local-update and GET /api/global-model; never raises on network errors."""

    def __init__(self, url: str, token: str | None, timeout: float = 3.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self.etag: str | None = None

    def send_update(self, update_id: str, device: str, update: LocalUpdate) -> str:
        """POST one update; returns accepted | duplicate | stale | rejected | error."""
        meta = {
            "update_id": update_id,
            "device": device,
            "samples": int(update.samples),
            "base_version": int(update.base_version),
            "loss": float(update.loss) if math.isfinite(update.loss) else None,
        }
        body = encode_arrays([np.asarray(w, np.float32) for w in update.weights], meta)
        headers = {"Content-Type": "application/octet-stream", "Idempotency-Key": update_id}
        try:
            response = self.http.post("/api/local-update", content=body, headers=headers)
        except httpx.HTTPError:
            return "error"
        if response.status_code == 202:
            return "accepted"
        if response.status_code == 200:
            return "duplicate"
        if response.status_code == 422:
            reason = response.json().get("detail", {}).get("reason", "")
            return "stale" if reason == "stale" else "rejected"
        return "error"

    def fetch_global(self) -> GlobalModel | None:
        """The global model if it changed since the last fetch (If-None-Match), else None."""
        headers = {"If-None-Match": self.etag} if self.etag else {}
        try:
            response = self.http.get("/api/global-model", headers=headers)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            weights, meta = decode_arrays(response.content)
        except WireError:
            return None
        self.etag = response.headers.get("ETag")
        return GlobalModel(list(weights), int(meta.get("version", 0)), self.etag or "")

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()
