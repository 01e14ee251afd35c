"""Builders shared by the aggregator unit tests: an app on an in-memory store, update bodies."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import FastAPI

from flead.wire import encode_arrays
from flead_aggregator.app import create_app
from flead_aggregator.settings import load_settings
from flead_aggregator.store import MemoryStore

TOKEN = "s3cret"
SHAPES = [(3, 2), (2,)]


def initial() -> list[np.ndarray]:
    """A tiny fixed global model."""
    return [np.zeros(s, np.float32) for s in SHAPES]


def make_app(**overrides: Any) -> tuple[FastAPI, MemoryStore]:
    """An aggregator app on a MemoryStore with a token and small rounds."""
    store = MemoryStore()
    defaults: dict[str, Any] = {
        "aggregator_token": TOKEN,
        "aggregator_min_updates": 2,
        "aggregator_round_timeout_seconds": 3600,
    }
    settings = load_settings(**(defaults | overrides))
    return create_app(settings, store=store, initial=initial), store


def weights(value: float = 0.1) -> list[np.ndarray]:
    """Weights of the right shapes, all equal to value."""
    return [np.full(s, value, np.float32) for s in SHAPES]


def blob(device: str = "1", samples: int = 10, base: int = 0, w: Any = None, **meta: Any) -> bytes:
    """A binary update body."""
    arrays = weights() if w is None else w
    return encode_arrays(
        arrays, {"device": device, "samples": samples, "base_version": base, **meta}
    )


def auth(uid: str | None = None) -> dict[str, str]:
    """Headers of a binary write with the right token."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/octet-stream"}
    if uid:
        headers["Idempotency-Key"] = uid
    return headers


def token() -> dict[str, str]:
    """Only the Authorization header (JSON writes)."""
    return {"Authorization": f"Bearer {TOKEN}"}
