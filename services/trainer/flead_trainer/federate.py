"""A trainer's side of federation: send each device's due local update, adopt new global models."""

from __future__ import annotations

import time
from collections.abc import Iterable

from flead.logging import get_logger
from flead.model import DeviceBank
from flead_trainer import metrics as m
from flead_trainer.cadence import Cadence
from flead_trainer.client import AggregatorClient
from flead_trainer.settings import TrainerSettings

__all__ = ["Federator"]

log = get_logger(__name__)
BACKOFF_SECONDS = 5.0


class Federator:
    """Every N samples or T seconds per device a local update; every few seconds a conditional GET."""

    def __init__(self, s: TrainerSettings, bank: DeviceBank, client: AggregatorClient) -> None:
        self.s, self.bank, self.client = s, bank, client
        self.cadence = Cadence(s.trainer_update_every_samples, s.trainer_update_every_seconds)
        self.version = 0
        self.next_model_poll = 0.0
        self.backoff_until = 0.0

    def learned(self, counts: Iterable[tuple[str, int]]) -> None:
        """Rows each device learned from in the last batch."""
        self.cadence.learned(counts, time.monotonic())

    def tick(self) -> None:
        """Send the due updates (backing off while the aggregator is unreachable), then sync."""
        now = time.monotonic()
        if now >= self.backoff_until:
            for device in self.cadence.due(now):
                update = self.bank.local_update(device)
                if update.samples < 1:
                    self.cadence.sent(device, now)
                    continue
                uid = f"{self.s.partition_group}:{device}:{update.base_version}:{time.time_ns()}"
                outcome = self.client.send_update(uid, device, update)
                m.UPDATES_SENT.labels(outcome).inc()
                if outcome == "error":
                    self.backoff_until = now + BACKOFF_SECONDS
                    break
                self.cadence.sent(device, now)
        self.sync_global()

    def sync_global(self, force: bool = False) -> None:
        """Adopt the aggregator's global model when it is newer (If-None-Match: 304 otherwise)."""
        now = time.monotonic()
        if not force and now < self.next_model_poll:
            return
        self.next_model_poll = now + self.s.trainer_model_poll_seconds
        model = self.client.fetch_global()
        if model is None or model.version <= self.version:
            return
        self.bank.adopt_global(model.weights, model.version)
        self.version = model.version
        m.GLOBAL_VERSION.set(self.version)
        log.info("adopted global model", version=self.version)
