"""HTTP shapes of the global model (binary or JSON, metadata headers, ETag) and the update body schema."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from fastapi import Response
from pydantic import BaseModel

from flead_aggregator.codec import BINARY, weights_to_lists
from flead_aggregator.store import ModelRecord

__all__ = ["etag_of", "global_model_response", "local_update_openapi", "model_headers"]


def etag_of(version: int) -> str:
    """Strong ETag of a global version."""
    return f'"v{version}"'


def model_headers(rec: ModelRecord) -> dict[str, str]:
    """Metadata of a version as response headers."""
    return {
        "ETag": etag_of(rec.version),
        "X-Flead-Model-Version": str(rec.version),
        "X-Flead-Model-Kind": rec.kind,
        "X-Flead-Model-Created": f"{rec.created_at:.3f}",
        "X-Flead-Model-Samples": str(rec.lineage.get("samples", 0)),
        "X-Flead-Model-Participants": str(rec.lineage.get("participants", 0)),
        "Cache-Control": "no-cache",
    }


def global_model_response(
    rec: ModelRecord,
    fmt: str,
    encode: Callable[[Sequence[np.ndarray], Mapping[str, Any]], bytes],
) -> Response:
    """The version as a binary flead.wire blob (default) or JSON lists (the original's format)."""
    headers = model_headers(rec)
    if fmt == "json":
        body = {"version": rec.version, "weights": weights_to_lists(rec.weights), **rec.summary()}
        return Response(json.dumps(body), media_type="application/json", headers=headers)
    meta = {"version": rec.version, "kind": rec.kind, "created_at": rec.created_at}
    return Response(encode(rec.weights, meta), media_type=BINARY, headers=headers)


def local_update_openapi(schema: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI of POST /api/local-update's body: a binary blob or the JSON-lists form."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                BINARY: {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": schema.model_json_schema()},
            },
        }
    }
