"""Riding out a dependency outage: capped exponential backoff, and the dependency's up/down state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from flead.logging import get_logger
from flead.mongo import transient as mongo_transient
from flead_trainer import metrics as m

__all__ = ["Dependency", "backoff_delays", "mongo_transient"]

log = get_logger(__name__)
T = TypeVar("T")


def backoff_delays(initial: float, cap: float, factor: float = 2.0) -> Iterator[float]:
    """The waits between attempts: initial, initial*factor, ... never more than `cap`; endless."""
    delay = initial
    while True:
        yield min(delay, cap)
        delay = min(delay * factor, cap)


class Dependency:
    """One external dependency (e.g. mongodb): whether it answered last time, why not, and
    `call`, which retries a transient failure with capped exponential backoff for at most
    `patience` seconds of continuous failure (then the error propagates)."""

    def __init__(
        self,
        name: str,
        transient: Callable[[BaseException], bool],
        *,
        initial: float,
        cap: float,
        patience: float,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.transient = transient
        self.initial, self.cap, self.patience = initial, cap, patience
        self._sleep, self._clock = sleep, clock
        self._lock = threading.Lock()
        self._error: str | None = None
        self.down_since: float | None = None
        m.DEPENDENCY_UP.labels(name).set(1)
        m.DEPENDENCY_RETRIES.labels(name)

    @property
    def up(self) -> bool:
        """False from a transient failure until the next successful call."""
        with self._lock:
            return self._error is None

    @property
    def reason(self) -> str | None:
        """Why the dependency counts as down (None while up)."""
        with self._lock:
            return self._error

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """fn(), retried while it fails transiently and the outage is shorter than `patience`.
        `fn` must be safe to repeat (idempotent): a failed attempt may have been applied."""
        delays = backoff_delays(self.initial, self.cap)
        attempt = 0
        while True:
            attempt += 1
            try:
                out = fn()
            except Exception as exc:
                if not self.transient(exc):
                    raise
                self._failed(what, exc, attempt)
                assert self.down_since is not None
                if self._clock() - self.down_since >= self.patience:
                    log.error(
                        "dependency down longer than its patience, giving up",
                        dependency=self.name,
                        what=what,
                        patience_seconds=self.patience,
                        error=str(exc),
                    )
                    raise
                m.DEPENDENCY_RETRIES.labels(self.name).inc()
                self._sleep(next(delays))
                continue
            self._recovered(what, attempt)
            return out

    def failed(self, what: str, error: str, attempt: int = 1) -> None:
        """Record a failed call made elsewhere (e.g. a send that backs off instead of sleeping)."""
        self._failed(what, error, attempt)

    def succeeded(self, what: str) -> None:
        """Record a successful call made elsewhere."""
        self._recovered(what, 1)

    def _failed(self, what: str, exc: BaseException | str, attempt: int) -> None:
        first = self.down_since is None
        if first:
            self.down_since = self._clock()
        error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._error = f"{self.name} unreachable during {what}: {error}"
        m.DEPENDENCY_UP.labels(self.name).set(0)
        if first or attempt % 10 == 0:
            log.warning(
                "dependency down, retrying",
                dependency=self.name,
                what=what,
                attempt=attempt,
                error=error[:500],
            )

    def _recovered(self, what: str, attempt: int) -> None:
        if self.down_since is None:
            return
        down = self._clock() - self.down_since
        self.down_since = None
        with self._lock:
            self._error = None
        m.DEPENDENCY_UP.labels(self.name).set(1)
        log.info(
            "dependency back",
            dependency=self.name,
            what=what,
            attempts=attempt,
            down_seconds=round(down, 3),
        )
