"""FastAPI application of the aggregator: the seed's REST surface plus rollback, metrics and probes."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from flead.federation import SpecMismatch, UpdateRejected
from flead.logging import get_logger
from flead.model import ModelSpec
from flead_aggregator.api import coordinator_of, router
from flead_aggregator.coordinator import RETRY_AFTER_SECONDS, Coordinator, Unavailable
from flead_aggregator.settings import AggregatorSettings, load_settings
from flead_aggregator.store import Store, StoreUnavailable

__all__ = ["create_app"]

log = get_logger(__name__)


def _start(app: FastAPI, stop: threading.Event) -> None:
    coord: Coordinator = app.state.coordinator
    while not stop.is_set() and not coord.started:
        try:
            coord.start()
        except SpecMismatch as exc:  # not transient: stay unready and say why, once
            log.error("cannot start", error=str(exc))
            return
        except Exception as exc:  # MongoDB not reachable yet: /readyz says so meanwhile
            log.warning("cannot start yet, retrying", error=str(exc))
            stop.wait(2.0)
    while not stop.wait(1.0):
        try:
            if coord.down_reason is None:
                coord.tick()
            else:
                coord.recover()  # reload from the store once it answers again
        except Exception:
            log.exception("round timer failed")


def create_app(
    settings: AggregatorSettings | None = None,
    store: Store | None = None,
    spec: ModelSpec | None = None,
) -> FastAPI:
    """Build the app; the store defaults to MongoDB, the spec to the settings' (version 0 from it)."""
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
    app.state.settings = s
    app.state.coordinator = Coordinator(store, s, spec)

    @app.exception_handler(UpdateRejected)
    async def rejected(_: Request, exc: UpdateRejected) -> JSONResponse:
        return JSONResponse({"detail": exc.to_dict()}, status_code=422)

    @app.exception_handler(Unavailable)
    async def unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return _unavailable(exc.reason, exc.retry_after)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return _unavailable(str(exc), RETRY_AFTER_SECONDS)  # a read that needs the store

    app.include_router(router)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "not ready, with the reason"}})
    def readyz(request: Request) -> JSONResponse:
        """Readiness: the registry is loaded and MongoDB answers (503 with the reason if not)."""
        coord = coordinator_of(request)
        reason = coord.down_reason
        if reason is None and not coord.started:
            reason = "starting: registry not loaded yet"
        if reason is None and not coord.store.ping():
            reason = "mongodb does not answer ping"
        if reason is None:
            return JSONResponse({"ready": True})
        return JSONResponse({"ready": False, "reason": reason}, status_code=503)

    return app


def _unavailable(reason: str, retry_after: int) -> JSONResponse:
    """503: the write was not acknowledged (nothing of it counts); try again after a while."""
    return JSONResponse(
        {"detail": {"reason": "store_unavailable", "message": reason}},
        status_code=503,
        headers={"Retry-After": str(retry_after)},
    )


def __getattr__(name: str) -> Any:
    """`flead_aggregator.app:app` for uvicorn --reload: built on first access, from the environment."""
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
