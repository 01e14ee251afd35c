"""HTTP shapes of the global model (binary or JSON, metadata headers, ETag) and the update body schema."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response
from pydantic import BaseModel

from flead.federation import ModelVersion, etag_of
from flead_aggregator.codec import BINARY, weights_to_lists
from flead_aggregator.store import ModelRecord

__all__ = ["etag_of", "global_model_response", "local_update_openapi", "model_headers"]


def model_headers(rec: ModelRecord) -> dict[str, str]:
    """Metadata of a version as response headers."""
    return {
        "ETag": etag_of(rec.version),
        "X-Flead-Model-Version": str(rec.version),
        "X-Flead-Model-Kind": rec.kind,
        "X-Flead-Model-Created": f"{rec.created_at:.3f}",
        "X-Flead-Model-Samples": str(rec.model.lineage.samples),
        "X-Flead-Model-Participants": str(rec.model.lineage.participants),
        "Cache-Control": "no-cache",
    }


def global_model_response(rec: ModelRecord, served: ModelVersion, fmt: str) -> Response:
    """The version as a binary `ModelVersion` blob (default) or JSON lists (the original's format).

    `served` is the record's version as the strategy serves it (with its granularity)."""
    headers = model_headers(rec) | {"X-Flead-Granularity": served.granularity.value}
    if fmt == "json":
        body = {
            "version": rec.version, "weights": weights_to_lists(rec.weights), **rec.summary(),
            "granularity": served.granularity.value,
        }  # fmt: skip
        return Response(json.dumps(body), media_type="application/json", headers=headers)
    return Response(served.to_blob(), media_type=BINARY, headers=headers)


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
