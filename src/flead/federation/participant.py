"""`Participant`: a trainer's devices as ONE participant of the aggregator -- cadence, ids, adoption."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import NamedTuple, Protocol

import numpy as np

from flead.federation.strategy import Update, bundle_blob
from flead.federation.version import Granularity, ModelVersion
from flead.model import DeviceBank

__all__ = ["Cadence", "Outcome", "Participant", "Sent", "Transport"]


@dataclass(frozen=True)
class Cadence:
    """A device's update is due after `every_samples` new samples, or `every_seconds` with any."""

    every_samples: int = 500
    every_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.every_samples < 1 or not self.every_seconds > 0:
            raise ValueError("every_samples must be >= 1 and every_seconds > 0")


class Outcome(str, Enum):
    """What became of one sent update."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # accepted earlier (a resend): delivered all the same
    STALE = "stale"
    REJECTED = "rejected"
    ERROR = "error"  # not delivered: the samples stay, the same update is sent again

    @property
    def delivered(self) -> bool:
        """Whether the aggregator has (or refused for good) the update: its samples are spent."""
        return self is not Outcome.ERROR


class Transport(Protocol):
    """How a participant reaches the strategy: HTTP in the services, in-memory in `flead simulate`."""

    def send(self, update: Update) -> Outcome: ...
    def send_many(self, updates: Sequence[Update]) -> Outcome: ...
    def fetch(self, have: int | None) -> ModelVersion | None: ...


class Sent(NamedTuple):
    """One update of a tick and its outcome."""

    update: Update
    outcome: Outcome
    nbytes: int


class Participant:
    """Every device of one bank as one participant; per device state lives in the bank.

    Per device the bank holds (and checkpoints with the device): the base version, the samples
    learned since the last delivered update, the rows seen and the optimiser state. The cadence
    clock (`last`, when the trainer last delivered) is not durable: it restarts with the process.

    The trainer is due when a device learned `every_samples` since its last update, or when
    `every_seconds` passed since the last delivery and any device learned. Then every device
    that learned goes out: as ONE partial aggregate per base version (sample-weighted mean of
    their shared weights + the sample total) when the strategy's granularity is PARTIAL, else
    as one update per device. So the aggregator sees about one update per trainer per
    every_seconds, however many devices the trainer serves. Update ids hash what the update is
    made of (sender, devices, base version, rows seen, samples): the same data gives the same
    id, so a resend after a crash is refused as a duplicate. A failed send keeps the samples.
    """

    def __init__(
        self, name: str, bank: DeviceBank, transport: Transport, cadence: Cadence | None = None
    ) -> None:
        self.name, self.bank, self.transport = name, bank, transport
        self.cadence = cadence or Cadence()
        self.granularity = Granularity.PARTIAL
        self.last: float | None = None
        self.changed: set[str] = set()  # devices whose state a send or an adoption changed

    @property
    def version(self) -> int:
        """The global version adopted (the bank's: the one copy on the trainer side)."""
        return self.bank.version

    def learned(self, now: float) -> None:
        """Something was learned at `now` (the first time starts the cadence clock)."""
        if self.last is None:
            self.last = now

    def due(self, now: float) -> list[str]:
        """The devices to send now (every device that learned, sorted), or [] if not due yet."""
        if self.last is None:
            return []
        top = self.bank.most_samples()
        c = self.cadence
        if not (top >= c.every_samples or (top > 0 and now - self.last >= c.every_seconds)):
            return []
        devices = sorted(self.bank.devices())
        samples, _, _ = self.bank.pending(devices)
        return [d for d, n in zip(devices, samples.tolist(), strict=True) if n > 0]

    def updates(self, devices: Sequence[str]) -> list[tuple[Update, list[str], np.ndarray]]:
        """The updates that carry these devices' samples: (update, its devices, their samples)."""
        if not devices:
            return []
        samples, bases, seen = self.bank.pending(devices)
        keep = samples > 0
        devs = [d for d, k in zip(devices, keep.tolist(), strict=True) if k]
        samples, bases, seen = samples[keep], bases[keep], seen[keep]
        losses = self.bank.losses(devs)
        out = []
        if self.granularity is Granularity.PER_DEVICE:
            for i, d in enumerate(devs):
                part = np.array([samples[i]])
                u = self._update([d], part, int(bases[i]), seen[i : i + 1], losses[i : i + 1], d)
                u = replace(u, via=self.name)
                out.append((u, [d], part))
            return out
        for base in sorted(set(bases.tolist())):
            sel = bases == base
            group = [d for d, s in zip(devs, sel.tolist(), strict=True) if s]
            out.append(
                (self._update(group, samples[sel], base, seen[sel], losses[sel], self.name),
                 group, samples[sel])
            )  # fmt: skip
        return out

    def _update(
        self, devices: list[str], samples: np.ndarray, base: int, seen: np.ndarray,
        losses: np.ndarray, sender: str,
    ) -> Update:  # fmt: skip
        total = int(samples.sum())
        mean = [
            a.astype(np.float32)
            for a in self.bank.weighted_shared(devices, samples.astype(np.float64) / total)
        ]
        digest = hashlib.sha256(f"{self.name}|{base}".encode())
        for d, n, s in zip(devices, samples.tolist(), seen.tolist(), strict=True):
            digest.update(f"|{d}:{s}:{n}".encode())
        finite = np.isfinite(losses)
        loss = (
            float((losses[finite] * samples[finite]).sum() / samples[finite].sum())
            if finite.any()
            else None
        )
        return Update(
            f"{self.name}:{base}:{digest.hexdigest()[:32]}", sender, total, base, mean,
            loss if loss is None or math.isfinite(loss) else None, devices=len(devices),
        )  # fmt: skip

    def tick(self, now: float) -> list[Sent]:
        """Send the due devices' updates: partial aggregates one by one (stopping at the first
        undelivered one), per-device updates as one bundle; undelivered samples are kept."""
        built = self.updates(self.due(now))
        if len(built) > 1 and self.granularity is Granularity.PER_DEVICE:
            outcome = self.transport.send_many([u for u, _, _ in built])
            size = len(bundle_blob([u for u, _, _ in built])) if outcome.delivered else 0
            if outcome.delivered:
                for _, devices, samples in built:
                    self.bank.mark_sent(devices, samples)
                    self.changed.update(devices)
                self.last = now
            return [Sent(u, outcome, size if i == 0 else 0) for i, (u, _, _) in enumerate(built)]
        sent: list[Sent] = []
        for update, devices, samples in built:
            outcome = self.transport.send(update)
            sent.append(Sent(update, outcome, len(update.to_blob()) if outcome.delivered else 0))
            if not outcome.delivered:
                break
            self.bank.mark_sent(devices, samples)
            self.changed.update(devices)
            self.last = now
        return sent

    def drain_changed(self) -> set[str]:
        """The devices whose state a send or an adoption changed since the last call."""
        changed, self.changed = self.changed, set()
        return changed

    def sync(self) -> ModelVersion | None:
        """Adopt the strategy's current version if the bank has not got it; returns it if adopted.

        Before the first adoption (a fresh start or a restart) any version is adopted, even one
        whose number equals the checkpointed devices' base version: the bank then knows the
        global weights, and devices already at that version keep theirs.
        Raises SpecMismatch when the version is of another model.
        """
        model = self.transport.fetch(self.version if self.bank.adopted else None)
        if model is None or (self.bank.adopted and model.version <= self.version):
            return None
        self.changed.update(self.bank.adopt(model))
        self.granularity = model.granularity
        return model
