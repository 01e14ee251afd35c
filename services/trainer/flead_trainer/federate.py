"""A trainer's side of federation: its `Participant` on the HTTP transport, with back-off and polling."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from flead.federation import Cadence, Outcome, Participant, SpecMismatch, Transport
from flead.logging import get_logger
from flead.model import DeviceBank
from flead_trainer import metrics as m
from flead_trainer.retry import Dependency, backoff_delays
from flead_trainer.settings import TrainerSettings

__all__ = ["Federator"]

log = get_logger(__name__)
BACKOFF_INITIAL_SECONDS = 1.0  # first wait after an undelivered update; doubles up to the cap


@runtime_checkable
class RetryHint(Protocol):
    """A transport that knows how long the server asked to be left alone (HTTP Retry-After)."""

    retry_after: float | None


class Federator:
    """Ticks the participant (due updates out, backing off while the aggregator is unreachable)
    and polls the aggregator's version every few seconds (ETag).

    An update not delivered (aggregator unreachable, 503 while its database is down, any answer
    but accepted/duplicate/refused) keeps its samples in the bank and is sent again, the same
    update id, after a capped exponential backoff — never sooner than the aggregator's
    `Retry-After` (itself capped by the same maximum); `aggregator` is a `Dependency` (metrics
    flead_dependency_up / _retries_total{dependency="aggregator"}) but never blocks the loop."""

    def __init__(self, s: TrainerSettings, bank: DeviceBank, client: Transport) -> None:
        """`client` is the HTTP `AggregatorClient` in the service (any Transport in tests)."""
        self.s, self.bank = s, bank
        cadence = Cadence(s.trainer_update_every_samples, s.trainer_update_every_seconds)
        self.participant = Participant(s.partition_group, bank, client, cadence)
        self.client = client
        self.next_model_poll = 0.0
        self.backoff_until = 0.0
        cap = s.trainer_aggregator_backoff_max_seconds
        self.aggregator = Dependency(
            "aggregator",
            lambda _: True,
            initial=min(BACKOFF_INITIAL_SECONDS, cap),
            cap=cap,
            patience=float("inf"),
        )
        self._delays: Iterator[float] | None = None
        self._failures = 0

    @property
    def version(self) -> int:
        """The adopted global version (the bank's)."""
        return self.bank.version

    def join(self, attempts: int = 3, retry_seconds: float = 1.0) -> bool:
        """Adopt the aggregator's current version before anything is learned; True if adopted.

        A restarted trainer adopts it even when its number equals the checkpoint's. A model of
        another spec stops the process with one line naming both specs. An aggregator that does
        not answer within `attempts` does not stop detection: the trainer learns meanwhile and
        adopts at its first answer (devices then move to that version).
        """
        for attempt in range(attempts):
            if self._sync() is not None:
                break
            if attempt + 1 < attempts:
                time.sleep(retry_seconds)
        if not self.bank.adopted:
            log.warning(
                "aggregator unreachable: learning without a global version until it answers",
                url=self.s.aggregator_url,
            )
        self.next_model_poll = time.monotonic() + self.s.trainer_model_poll_seconds
        return self.bank.adopted

    def learned(self, counts: Iterable[tuple[str, int]]) -> None:
        """Rows each device learned from in the last batch."""
        if any(n > 0 for _, n in counts):
            self.participant.learned(time.monotonic())

    def changed(self) -> set[str]:
        """Devices whose state federation changed since the last call (samples spent by a send,
        shared layers moved by an adoption): a changed-only checkpoint must write them too."""
        return self.participant.drain_changed()

    def tick(self) -> None:
        """Send the due updates (backing off while the aggregator is unreachable), then poll."""
        now = time.monotonic()
        if now >= self.backoff_until:
            for sent in self.participant.tick(now):
                m.UPDATES_SENT.labels(sent.outcome.value).inc()
                if sent.outcome is Outcome.ERROR:
                    self._undelivered(now)
                else:
                    self._delivered()
        self.sync_global()

    def _undelivered(self, now: float) -> None:
        if self._delays is None:
            self._delays = backoff_delays(self.aggregator.initial, self.aggregator.cap)
        else:
            m.DEPENDENCY_RETRIES.labels("aggregator").inc()
        self._failures += 1
        wait = next(self._delays)
        asked = self.client.retry_after if isinstance(self.client, RetryHint) else None
        if asked is not None:
            wait = max(wait, min(asked, self.aggregator.cap))
        self.backoff_until = now + wait
        self.aggregator.failed(
            "update send", f"not delivered, next try in {wait:.1f}s", self._failures
        )

    def _delivered(self) -> None:
        if self._delays is not None:
            self._delays, self._failures = None, 0
            self.aggregator.succeeded("update send")

    def sync_global(self, force: bool = False) -> None:
        """Adopt the aggregator's version when it is newer (If-None-Match: 304 otherwise)."""
        now = time.monotonic()
        if not force and now < self.next_model_poll:
            return
        self.next_model_poll = now + self.s.trainer_model_poll_seconds
        self._sync()

    def _sync(self) -> int | None:
        try:
            model = self.participant.sync()
        except SpecMismatch as exc:
            log.error("refusing to run", error=str(exc))
            raise SystemExit(f"flead-trainer: {exc}") from None
        if model is None:
            return None
        m.GLOBAL_VERSION.set(model.version)
        log.info("adopted global model", version=model.version, granularity=model.granularity.value)
        return model.version
