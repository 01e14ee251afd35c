"""Request bodies of model updates (binary flead.wire blobs or the original JSON lists) -> `Update`."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from flead.federation import Update, UpdateRejected
from flead.wire import WireError, decode_arrays

__all__ = [
    "BINARY",
    "LocalUpdateJSON",
    "parse_binary",
    "parse_json",
    "weights_to_lists",
]

BINARY = "application/octet-stream"
MAX_INT = 2**53  # larger integers do not round-trip through JSON clients or BSON int64 safely


class LocalUpdateJSON(BaseModel):
    """A local update as JSON lists (the original global server's format; slower than binary)."""

    update_id: str | None = Field(
        None, description="idempotency key (or the Idempotency-Key header)"
    )
    device: str = Field(..., min_length=1, max_length=256, description="device id")
    samples: int = Field(..., le=MAX_INT, description="samples the update was trained on, >= 1")
    base_version: int = Field(
        ..., ge=0, le=MAX_INT, description="global version the device started from"
    )
    weights: list[Any] = Field(..., description="one nested list per array of the shared model")
    loss: float | None = Field(None, description="the device's recent mean loss (optional)")


def _utf8(value: str, field: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UpdateRejected(field, field, "not valid UTF-8 text") from exc
    return value


def _update_id(key: str | None, fallback: object) -> str:
    uid = key if key else fallback
    if not isinstance(uid, str) or not uid.strip():
        raise UpdateRejected(
            "update_id", "Idempotency-Key", "an Idempotency-Key header (or update_id) is required"
        )
    if len(uid) > 200:
        raise UpdateRejected("update_id", "Idempotency-Key", "longer than 200 characters")
    return _utf8(uid, "update_id")


def _int(meta: Mapping[str, Any], name: str) -> int:
    value = meta.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise UpdateRejected(name, name, f"{name} must be an integer in 0..2^53, got {value!r}")
    return value


def _loss(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UpdateRejected("loss", "loss", f"loss must be a finite number, got {value!r}")
    return float(value)


def parse_binary(body: bytes, key: str | None) -> list[Update]:
    """Decode a flead.wire blob: one update (metadata: device, samples, base_version, loss,
    devices, via) or a bundle (metadata `updates`: one such entry per update, tensors stacked)."""
    try:
        arrays, meta = decode_arrays(body)
    except WireError as exc:
        raise UpdateRejected("format", "body", str(exc)) from exc
    via = meta.get("via") or ""
    if not isinstance(via, str) or len(via) > 256:
        raise UpdateRejected("via", "via", "via must name the sending trainer (<= 256 chars)")
    via = _utf8(via, "via")
    entries = meta.get("updates")
    if entries is None:
        return [_one(meta, list(arrays), key, via)]
    if not isinstance(entries, list) or not 1 <= len(entries) <= 100_000:
        raise UpdateRejected("updates", "updates", "updates must be a list of 1-100000 entries")
    k = len(entries)
    if any(a.ndim < 1 or a.shape[0] != k for a in arrays):
        raise UpdateRejected("shape", "weights", f"a bundle's tensors must be stacked [{k}, ...]")
    out = []
    for i, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise UpdateRejected("updates", "updates", "each entry must be an object")
            out.append(_one(entry, [a[i] for a in arrays], None, via))
        except UpdateRejected as exc:
            raise UpdateRejected(exc.reason, f"updates[{i}].{exc.field}", exc.message) from exc
    return out


def _one(meta: Mapping[str, Any], arrays: list[np.ndarray], key: str | None, via: str) -> Update:
    device = meta.get("device")
    if not isinstance(device, str) or not device or len(device) > 256:
        raise UpdateRejected("device", "device", "metadata must name the device (1-256 chars)")
    devices = meta.get("devices", 1)
    if isinstance(devices, bool) or not isinstance(devices, int) or not 1 <= devices <= MAX_INT:
        raise UpdateRejected(
            "devices", "devices", f"devices must be an integer >= 1, got {devices!r}"
        )
    return Update(
        update_id=_update_id(key, meta.get("update_id")),
        via=via,
        sender=_utf8(device, "device"),
        samples=_int(meta, "samples"),
        base_version=_int(meta, "base_version"),
        tensors=arrays,
        loss=_loss(meta.get("loss")),
        devices=devices,
    )


def parse_json(body: bytes, key: str | None) -> Update:
    """Decode the JSON-lists format; ragged or non-numeric lists are a shape/dtype rejection."""
    try:
        doc = LocalUpdateJSON.model_validate(json.loads(body))
    except (ValueError, UnicodeDecodeError) as exc:
        field = "body"
        if isinstance(exc, ValidationError) and exc.errors():
            field = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "body"
        raise UpdateRejected("schema", field, str(exc).splitlines()[0][:300]) from exc
    arrays: list[np.ndarray] = []
    for i, nested in enumerate(doc.weights):
        try:
            arrays.append(np.asarray(nested, dtype=np.float32))
        except (ValueError, TypeError) as exc:
            raise UpdateRejected(
                "shape", f"weights[{i}]", "not a rectangular list of numbers"
            ) from exc
    return Update(
        update_id=_update_id(key, doc.update_id),
        sender=_utf8(doc.device, "device"),
        samples=doc.samples,
        base_version=doc.base_version,
        tensors=arrays,
        loss=_loss(doc.loss),
    )


def weights_to_lists(weights: Sequence[np.ndarray]) -> list[Any]:
    """Nested lists for the JSON form of the global model."""
    return [np.asarray(w, dtype=np.float32).tolist() for w in weights]
