"""The seed's REST surface: local updates, the global model (ETag), aggregate, rollback, status, history."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from flead.logging import get_logger
from flead_aggregator.auth import (
    AUTH_TOTAL,
    Authenticator,
    Identity,
    Refused,
    authenticator_for,
    bearer,
    forbidden_update,
)
from flead_aggregator.codec import BINARY, LocalUpdateJSON, parse_binary, parse_json
from flead_aggregator.coordinator import Coordinator
from flead_aggregator.models_api import etag_of, global_model_response, local_update_openapi

__all__ = ["coordinator_of", "router"]

log = get_logger(__name__)
router = APIRouter()
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class RollbackRequest(BaseModel):
    """Which registry version to make current again (published as a new version)."""

    version: int = Field(..., ge=0, le=2**53, description="an existing version")


_LOCK = threading.Lock()


def authenticator_of(request: Request) -> Authenticator:
    """The app's authenticator, built from its settings on first use."""
    state = request.app.state
    with _LOCK:
        if getattr(state, "authenticator", None) is None:
            state.authenticator = authenticator_for(state.settings)
    found: Authenticator = state.authenticator
    return found


def _identify(request: Request, credentials: Credentials) -> Identity:
    """Authenticate (blocking: FastAPI runs this dependency in a worker thread)."""
    token = credentials.credentials if credentials else None
    try:
        return authenticator_of(request).authenticate(token)
    except Refused as exc:
        _refused(request, exc)
        raise exc.http() from None


def _refused(request: Request, exc: Refused) -> None:
    AUTH_TOTAL.labels(exc.outcome).inc()
    log.info(
        "request refused",
        path=request.url.path,
        status=exc.code,
        reason=exc.reason,
        identity=exc.who or None,
        message=exc.message,
    )


def _admit(request: Request, identity: Identity, refusal: str | None, reason: str) -> None:
    """Count the request allowed, or refuse it 403 naming the identity and why."""
    if refusal is None:
        AUTH_TOTAL.labels("allowed").inc()
        return
    exc = Refused(403, reason, refusal, identity.name)
    _refused(request, exc)
    raise exc.http()


Caller = Annotated[Identity, Depends(_identify)]


def _admin(request: Request, identity: Caller) -> None:
    why = None if identity.admin else f"{identity.name} may not aggregate or roll back"
    _admit(request, identity, why, "admin_only")


def _reader(request: Request, credentials: Credentials) -> None:
    """The global model: open with the static token mode (as before), a trainer or admin
    identity in serviceaccount mode."""
    if request.app.state.settings.aggregator_auth == "static":
        return
    identity = _identify(request, credentials)
    why = None if identity.trainer or identity.admin else f"{identity.name} is not a trainer"
    _admit(request, identity, why, "not_a_trainer")


Writer = Depends(_admin)
Reader = Depends(_reader)


@router.post(
    "/api/local-update",
    status_code=202,
    openapi_extra=local_update_openapi(LocalUpdateJSON),
    responses={
        200: {"description": "duplicate id: accepted earlier"},
        401: {"description": "no valid token"},
        403: {"description": "not allowed for this identity, with the reason"},
        422: {"description": "rejected, with the reason"},
        503: {"description": "identity cannot be checked now (Retry-After)"},
    },
)
async def local_update(
    request: Request,
    identity: Caller,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Accept one device's local update (binary flead.wire blob, or JSON lists)."""
    body = await _read_body(request, request.app.state.settings.aggregator_max_body_bytes)
    kind = request.headers.get("content-type", BINARY).split(";")[0].strip().lower()
    if kind == "application/json":
        parsed = [parse_json(body, idempotency_key)]
    elif kind in (BINARY, ""):
        parsed = parse_binary(body, idempotency_key)
    else:
        raise HTTPException(
            415,
            detail={
                "reason": "content_type",
                "message": f"{kind} is not {BINARY} or application/json",
            },
        )
    _admit(request, identity, forbidden_update(identity, parsed), "not_assigned")
    outcome, answer = await run_in_threadpool(coordinator_of(request).submit, parsed)
    return JSONResponse(answer, status_code=202 if outcome == "accepted" else 200)


@router.get(
    "/api/global-model",
    dependencies=[Reader],
    responses={200: {"content": {BINARY: {}}}, 304: {"description": "not modified"}},
)
def global_model(
    request: Request,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
    fmt: Annotated[str, Query(alias="format", pattern="^(binary|json)$")] = "binary",
) -> Response:
    """The current global model: binary weights plus metadata headers; ETag / If-None-Match."""
    coord = _ready(request)
    rec = coord.current
    tag = etag_of(rec.version)
    if if_none_match is not None and tag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": tag})
    return global_model_response(rec, coord.served(), fmt)


@router.post("/api/aggregate", dependencies=[Writer])
def aggregate(request: Request) -> dict[str, Any]:
    """Close the current round (or flush the async buffer) now."""
    version = _ready(request).aggregate_now()
    current = coordinator_of(request).current.version
    if version is None:
        return {"aggregated": False, "reason": "no pending updates", "version": current}
    return {"aggregated": True, "version": version}


@router.post("/api/global-model/rollback", dependencies=[Writer])
def rollback(request: Request, body: RollbackRequest) -> dict[str, Any]:
    """Publish a new version carrying the weights of an earlier one."""
    try:
        rec = _ready(request).rollback(body.version)
    except KeyError as exc:
        raise HTTPException(
            404,
            detail={
                "reason": "unknown_version",
                "field": "version",
                "message": f"version {body.version} is not in the registry",
            },
        ) from exc
    return {"version": rec.version, "rollback_to": body.version}


@router.get("/api/status")
def status(request: Request) -> dict[str, Any]:
    """Global version, policy, pending updates."""
    return _ready(request).status()


@router.get("/api/history")
def history(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Registry versions, newest first, with lineage and evaluation (no weights)."""
    return _ready(request).store.history(limit)


def coordinator_of(request: Request) -> Coordinator:
    """The app's coordinator."""
    coord: Coordinator = request.app.state.coordinator
    return coord


def _ready(request: Request) -> Coordinator:
    coord = coordinator_of(request)
    if not coord.started:
        raise HTTPException(
            503, detail={"reason": "starting", "message": "registry not loaded yet"}
        )
    return coord


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(
            413, detail={"reason": "too_large", "message": f"body over {limit} bytes"}
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                413, detail={"reason": "too_large", "message": f"body over {limit} bytes"}
            )
        chunks.append(chunk)
    return b"".join(chunks)
