"""The reconciler's writes: run in a thread pool, never repeated before the watch echoes them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flead.logging import get_logger
from flead_operator.kube import Kube
from flead_operator.plan import Plan

__all__ = ["Writer"]

log = get_logger("flead_operator.writer")
DEDUP_SECONDS = 30.0  # an unechoed write is not sent again within this time


def _fingerprint(patch: Mapping[str, Any]) -> str:
    """A status patch without its timestamps: the same write, whenever it is computed."""
    conditions = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"}
        for c in patch.get("conditions") or []
    ]
    return repr({**patch, "conditions": conditions})


class Writer:
    """Executes plans through :class:`Kube` with at most ``concurrency`` calls in flight.

    A write is skipped when the same write for the same object was sent less than
    DEDUP_SECONDS ago and the index still holds exactly what it held then (same records, uid and
    resourceVersion included): the watch has not echoed it yet, so sending it again is waste.
    """

    def __init__(self, kube: Kube, concurrency: int) -> None:
        self._kube = kube
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="flead-api")
        self._sent: dict[tuple[str, str, str], tuple[str, Any, float]] = {}

    async def execute(self, namespace: str, plan: Plan, seen: Mapping[Any, Any]) -> int:
        """ServiceAccounts and device ConfigMaps, then Deployments, then statuses; returns the
        number of failed calls.

        A Deployment records the revision of its ConfigMap, so it is applied only once every
        ConfigMap (and the identity its pods run as) of the pass is: a failed one is retried,
        never recorded as applied.
        """
        kube = self._kube
        calls = [
            self._once(
                ("serviceaccount", namespace, body["metadata"]["name"]),
                repr(body),
                seen.get(body["metadata"]["name"]),
                kube.apply_serviceaccount,
                body,
            )
            for body in plan.serviceaccounts
        ]
        calls += [
            self._once(
                ("configmap", namespace, body["metadata"]["name"]),
                repr(body),
                seen.get(body["metadata"]["name"].removesuffix("-devices")),
                kube.apply_configmap,
                body,
            )
            for body in plan.configmaps
        ]
        failures = await self._gather(calls)
        if failures:
            return failures
        calls = [
            self._once(
                ("trainer", namespace, body["metadata"]["name"]),
                repr(body),
                seen.get(body["metadata"]["name"]),
                kube.apply_deployment,
                body,
            )
            for body in plan.apply
        ]
        calls += [
            self._once(
                ("trainer", namespace, name),
                "delete",
                seen.get(name),
                kube.delete_deployment,
                namespace,
                name,
            )
            for name in plan.delete
        ]
        failures = await self._gather(calls)
        failures += await self._gather(
            [
                self._once(
                    ("configmap", namespace, name),
                    "delete",
                    None,
                    kube.delete_configmap,
                    namespace,
                    name,
                )
                for name in plan.delete_configmaps
            ]
            + [
                self._once(
                    ("serviceaccount", namespace, name),
                    "delete",
                    None,
                    kube.delete_serviceaccount,
                    namespace,
                    name,
                )
                for name in plan.delete_serviceaccounts
            ]
        )
        calls = [
            self._once(
                ("device", namespace, name),
                _fingerprint(patch),
                seen.get(("device", name)),
                kube.patch_device_status,
                namespace,
                name,
                patch,
            )
            for name, patch in plan.status
        ]
        return failures + await self._gather(calls)

    async def patch_status(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        """One status patch (device figures), through the same pool."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self._pool, self._kube.patch_device_status, namespace, name, patch
        )

    def prune(self) -> None:
        """Forget writes older than the de-duplication window."""
        horizon = time.monotonic() - DEDUP_SECONDS
        self._sent = {k: v for k, v in self._sent.items() if v[2] > horizon}

    def close(self) -> None:
        """Release the threads and the connection pool."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._kube.close()

    def _once(
        self, key: tuple[str, str, str], what: str, seen: Any, fn: Callable[..., None], *args: Any
    ) -> asyncio.Future[None] | None:
        last = self._sent.get(key)
        now = time.monotonic()
        if last is not None and last[:2] == (what, seen) and now - last[2] < DEDUP_SECONDS:
            return None
        self._sent[key] = (what, seen, now)
        return asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _gather(self, futures: list[asyncio.Future[None] | None]) -> int:
        results = await asyncio.gather(
            *(f for f in futures if f is not None), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors[:3]:
            log.warning("API call failed", error=str(error)[:300])
        if errors:
            self._sent.clear()  # retry everything on the next pass
        return len(errors)
