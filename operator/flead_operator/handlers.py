"""kopf wiring only: indexes, event triggers, start-up/clean-up and the liveness probe."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from flead.logging import configure_logging, get_logger
from flead.metrics import serve_metrics
from flead_operator.kube import Kube, load_configuration
from flead_operator.metrics import OperatorMetrics
from flead_operator.reconciler import Reconciler
from flead_operator.records import (
    GROUP,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PLURAL,
    VERSION,
    DeviceRecord,
    TrainerRecord,
    device_record,
    trainer_record,
)
from flead_operator.settings import OperatorSettings

log = get_logger("flead_operator")
TRAINERS = {MANAGED_BY_LABEL: MANAGED_BY}
# Per-event "Handler ... succeeded", probe and access lines: thousands a minute at scale.
QUIET_LOGGERS = ("kopf.objects", "kopf.activities.probe", "aiohttp.access", "httpx")


def tune(settings: kopf.OperatorSettings, cfg: OperatorSettings) -> None:
    """kopf settings for many objects: no k8s Events, no CRD scanning, bounded timeouts."""
    settings.posting.enabled = False  # status conditions carry the news; no events RBAC
    settings.scanning.disabled = True  # no cluster-wide CRD watch (least privilege)
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.watching.reconnect_backoff = 1.0
    settings.networking.request_timeout = cfg.request_timeout_seconds * 2
    # kopf escalates (and the operator exits) after its last backoff: wait out ~5 min of outage.
    settings.networking.error_backoffs = (1, 1, 2, 3, 5, 8, 13, 21, *([30] * 8))


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: Any, **kwargs: Any) -> None:
    """Read settings, configure logs and /metrics, start the reconciler on kopf's live indexes."""
    cfg = OperatorSettings()
    configure_logging(cfg.log_format, cfg.log_level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    tune(settings, cfg)
    if "metrics" not in memo:  # kopf retries a failed start-up: register and serve only once
        memo.metrics = OperatorMetrics()
        if cfg.metrics_port:
            serve_metrics(cfg.metrics_port)
    metrics = memo.metrics
    kube = Kube(load_configuration(cfg.api_concurrency), metrics, cfg.request_timeout_seconds)
    memo.reconciler = Reconciler(cfg, kube, metrics, kwargs["fd_index"], kwargs["trainer_index"])
    memo.reconciler.start()
    log.info("operator started", **cfg.model_dump(include={"readings_partitions", "trainer_image"}))


@kopf.on.cleanup()
async def cleanup(memo: Any, **_: Any) -> None:
    """Graceful shutdown: finish the namespace being reconciled, then stop."""
    await memo.reconciler.stop()
    log.info("operator stopped")


@kopf.index(GROUP, VERSION, PLURAL, id="fd_index")
def fd_index(body: kopf.Body, namespace: str | None, **_: Any) -> dict[str, DeviceRecord]:
    """Devices by namespace."""
    return {namespace or "": device_record(body)}


@kopf.index("apps", "v1", "deployments", labels=TRAINERS, id="trainer_index")
def trainer_index(body: kopf.Body, namespace: str | None, **_: Any) -> dict[str, TrainerRecord]:
    """Trainer Deployments (created by this operator) by namespace."""
    return {namespace or "": trainer_record(body)}


@kopf.on.event(GROUP, VERSION, PLURAL, id="device_changed")
@kopf.on.event("apps", "v1", "deployments", labels=TRAINERS, id="trainer_changed")
async def changed(
    namespace: str | None, memo: Any, type: str | None, resource: kopf.Resource, **_: Any
) -> None:
    """Any change of a device or trainer: regroup its namespace (debounced; a device added or
    deleted is a burst that may go on).

    Async on purpose: kopf runs sync handlers in worker threads, and an asyncio.Event set from
    another thread does not wake the reconciler's loop (changes then waited for the resync)."""
    burst = resource.plural == PLURAL and type in ("ADDED", "DELETED")
    memo.reconciler.mark(namespace or "", burst=burst)


@kopf.on.probe(id="reconciler")
def probe(memo: Any, **_: Any) -> dict[str, Any]:
    """Liveness: fails when the reconciler task has died."""
    reconciler: Reconciler | None = getattr(memo, "reconciler", None)
    return reconciler.health() if reconciler is not None else {"starting": True}
