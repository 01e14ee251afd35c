"""Builders shared by the aggregator unit tests: a tiny spec, a store holding a zero version 0,
an app on it, update bodies."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import FastAPI

from flead.federation import ModelVersion
from flead.model import ModelSpec
from flead.wire import encode_arrays
from flead_aggregator.app import create_app
from flead_aggregator.settings import load_settings
from flead_aggregator.store import MemoryStore, ModelRecord

TOKEN = "s3cret"
SPEC = ModelSpec(("a",), hidden=(2,), personal_head=True, seed=0)
SHAPES = [t.shape for t in SPEC.tensors()]  # [(5, 2), (2,)]


def zero_store() -> MemoryStore:
    """A registry whose version 0 is all zeros (easy expected values)."""
    store = MemoryStore()
    v0 = ModelVersion(SPEC, 0, tuple(np.zeros(s, np.float32) for s in SHAPES))
    store.put_model(ModelRecord(v0, "sync"))
    return store


def make_app(**overrides: Any) -> tuple[FastAPI, MemoryStore]:
    """An aggregator app on a zero-version store with a token and small rounds."""
    store = zero_store()
    defaults: dict[str, Any] = {
        "aggregator_token": TOKEN,
        "aggregator_min_updates": 2,
        "aggregator_round_timeout_seconds": 3600,
    }
    settings = load_settings(**(defaults | overrides))
    return create_app(settings, store=store, spec=SPEC), store


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
