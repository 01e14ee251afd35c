"""FastAPI application of the aggregator: the seed's REST surface plus rollback, metrics and probes."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from flead.federation import UpdateRejected
from flead.logging import get_logger
from flead_aggregator.auth import bearer, check_token
from flead_aggregator.codec import BINARY, LocalUpdateJSON, encode_model, parse_binary, parse_json
from flead_aggregator.coordinator import Coordinator
from flead_aggregator.models_api import etag_of, global_model_response, local_update_openapi
from flead_aggregator.settings import AggregatorSettings, load_settings
from flead_aggregator.store import Store

__all__ = ["create_app"]

log = get_logger(__name__)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class RollbackRequest(BaseModel):
    """Which registry version to make current again (published as a new version)."""

    version: int = Field(..., ge=0, description="an existing version")


def _writer(request: Request, credentials: Credentials) -> None:
    check_token(request.app.state.settings.token, credentials)


Writer = Depends(_writer)


def _start(app: FastAPI, stop: threading.Event) -> None:
    coord: Coordinator = app.state.coordinator
    while not stop.is_set() and not coord.started:
        try:
            coord.start()
        except Exception as exc:  # MongoDB not reachable yet: /readyz says so meanwhile
            log.warning("cannot start yet, retrying", error=str(exc))
            stop.wait(2.0)
    while not stop.wait(1.0):
        try:
            coord.tick()
        except Exception:
            log.exception("round timer failed")


def create_app(
    settings: AggregatorSettings | None = None,
    store: Store | None = None,
    initial: Callable[[], list[np.ndarray]] | None = None,
) -> FastAPI:
    """Build the app; the store defaults to MongoDB, the initial model to a fresh device model."""
    s = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        worker = threading.Thread(target=_start, args=(app, stop), name="rounds", daemon=True)
        worker.start()
        yield
        stop.set()
        worker.join(timeout=5)

    app = FastAPI(
        title="FLEAD aggregator",
        version="0.1.0",
        description="Federates local model updates into the global model: FedAvg, robust rules, "
        "FedBuff, a model registry with lineage and rollback. Writes need a bearer token.",
        lifespan=lifespan,
    )
    if store is None:
        from flead_aggregator.mongo_store import MongoStore

        store = MongoStore(s.mongodb_uri, s.mongodb_database)
    if initial is None:
        from flead_aggregator.initial import initial_weights

        def initial() -> list[np.ndarray]:
            return initial_weights(s.features, s.aggregator_seed)

    app.state.settings = s
    app.state.coordinator = Coordinator(store, s, initial)

    @app.exception_handler(UpdateRejected)
    async def rejected(_: Request, exc: UpdateRejected) -> JSONResponse:
        return JSONResponse({"detail": exc.to_dict()}, status_code=422)

    @app.post(
        "/api/local-update",
        status_code=202,
        dependencies=[Writer],
        openapi_extra=local_update_openapi(LocalUpdateJSON),
        responses={
            200: {"description": "duplicate id: accepted earlier"},
            422: {"description": "rejected, with the reason"},
        },
    )
    async def local_update(
        request: Request,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        """Accept one device's local update (binary flead.wire blob, or JSON lists)."""
        body = await _read_body(request, s.aggregator_max_body_bytes)
        kind = request.headers.get("content-type", BINARY).split(";")[0].strip().lower()
        if kind == "application/json":
            parsed = parse_json(body, idempotency_key)
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
        outcome, answer = await run_in_threadpool(_coord(request).submit, parsed)
        return JSONResponse(answer, status_code=202 if outcome == "accepted" else 200)

    @app.get(
        "/api/global-model",
        responses={200: {"content": {BINARY: {}}}, 304: {"description": "not modified"}},
    )
    def global_model(
        request: Request,
        if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
        fmt: Annotated[str, Query(alias="format", pattern="^(binary|json)$")] = "binary",
    ) -> Response:
        """The current global model: binary weights plus metadata headers; ETag / If-None-Match."""
        rec = _ready(request).current
        tag = etag_of(rec.version)
        if if_none_match is not None and tag in [t.strip() for t in if_none_match.split(",")]:
            return Response(status_code=304, headers={"ETag": tag})
        return global_model_response(rec, fmt, encode_model)

    @app.post("/api/aggregate", dependencies=[Writer])
    def aggregate(request: Request) -> dict[str, Any]:
        """Close the current round (or flush the async buffer) now."""
        version = _ready(request).aggregate_now()
        current = _coord(request).current.version
        if version is None:
            return {"aggregated": False, "reason": "no pending updates", "version": current}
        return {"aggregated": True, "version": version}

    @app.post("/api/global-model/rollback", dependencies=[Writer])
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

    @app.get("/api/status")
    def status(request: Request) -> dict[str, Any]:
        """Global version, policy, pending updates."""
        return _ready(request).status()

    @app.get("/api/history")
    def history(
        request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[dict[str, Any]]:
        """Registry versions, newest first, with lineage and evaluation (no weights)."""
        return _ready(request).store.history(limit)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "not ready"}})
    def readyz(request: Request) -> JSONResponse:
        """Readiness: the registry is loaded and MongoDB answers."""
        coord = _coord(request)
        ok = coord.started and coord.store.ping()
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    return app


def _coord(request: Request) -> Coordinator:
    coord: Coordinator = request.app.state.coordinator
    return coord


def _ready(request: Request) -> Coordinator:
    coord = _coord(request)
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


def __getattr__(name: str) -> Any:
    """`flead_aggregator.app:app` for uvicorn --reload: built on first access, from the environment."""
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
