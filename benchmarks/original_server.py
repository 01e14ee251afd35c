"""Stand-in for the original FLEAD global server's ingest, the aggregator benchmark's baseline.

What the original `global_server/app.py` did per `POST /api/local-update`: a pydantic model of
JSON lists, the update appended to an in-memory list, aggregation once enough had arrived. No
auth, no validation of shapes or values, nothing durable. Run with
`python -m uvicorn benchmarks.original_server:app` (one worker, as the services run).
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

__all__ = ["app"]


class LocalUpdate(BaseModel):
    """The original body: a device, its sample count and its weights as nested lists."""

    device_id: str
    num_samples: int = 1
    weights: list[Any]


app = FastAPI(title="original FLEAD global server (benchmark stand-in)")
_pending: list[LocalUpdate] = []
_lock = threading.Lock()


@app.post("/api/local-update")
def local_update(update: LocalUpdate) -> dict[str, Any]:
    """Keep the update in memory; `aggregate` would average the pending ones."""
    with _lock:
        _pending.append(update)
        if len(_pending) > 100_000:  # the original aggregated and cleared at a threshold
            _pending.clear()
        return {"status": "received", "pending": len(_pending)}


@app.get("/api/status")
def status() -> dict[str, Any]:
    """Pending updates."""
    return {"pending": len(_pending)}
