"""The embedded federation: the services' Strategy and Participant over the in-memory transport."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flead.federation import (
    Cadence,
    LocalTransport,
    ModelVersion,
    Participant,
    StrategyConfig,
    make_strategy,
)
from flead.model import DeviceBank

__all__ = ["Federation", "RoundLog", "observe_round"]

TRAINER = "simulate"  # the one participant: every device of the bank, as one trainer


@dataclass(frozen=True)
class RoundLog:
    """What one round did: clock, devices, sample-weighted local loss, bytes, wall time."""

    index: int
    sim_time: float  # stream time at the round's end
    participants: int  # devices whose samples went into the round
    samples: int
    loss: float
    bytes_up: int  # encoded updates the trainer sent to the aggregator
    bytes_down: int  # the encoded global version the trainer fetched
    aggregate_seconds: float  # build + send + accept + close + fetch + adopt
    wall_seconds: float = 0.0  # since the previous round: local training plus aggregation


class Federation:
    """One trainer (`Participant` over the whole bank) and one aggregator (`Strategy`), in-process.

    The strategy is the services' default (sync FedAvg) with one update per round (one
    trainer); the cadence is the services' (stream time is the clock). A round end is a
    trainer tick: due devices send, the round closes, the trainer adopts the new version.
    """

    def __init__(
        self, bank: DeviceBank, cadence: Cadence | None = None, config: StrategyConfig | None = None
    ) -> None:
        self.now = 0.0
        strategy = make_strategy(
            config or StrategyConfig(min_updates=1), ModelVersion.initial(bank.spec)
        )
        self.transport = LocalTransport(strategy, lambda: self.now)
        self.participant = Participant(TRAINER, bank, self.transport, cadence)
        self.participant.sync()

    def learned(self, now: float) -> None:
        """The last micro-batch (ending at stream time `now`) was learned from."""
        self.participant.learned(now)

    def round(self, index: int, sim_time: float) -> RoundLog:
        """One trainer tick at stream time `sim_time`: send, aggregate, adopt."""
        start = time.perf_counter()
        self.now = sim_time
        sent = self.participant.tick(sim_time)
        self.transport.flush(sim_time)
        adopted = self.participant.sync()
        accepted = [s.update for s in sent if s.outcome.delivered]
        samples = sum(u.samples for u in accepted)
        loss = sum(u.samples * u.loss for u in accepted if u.loss is not None)
        return RoundLog(
            index, sim_time, sum(u.devices for u in accepted), samples,
            loss / samples if samples else float("nan"), sum(s.nbytes for s in sent),
            len(adopted.to_blob()) if adopted is not None else 0, time.perf_counter() - start,
        )  # fmt: skip


def observe_round(bank: DeviceBank, index: int, sim_time: float) -> RoundLog:
    """A round boundary of a mode that does not federate: only its mean loss is recorded."""
    return RoundLog(index, sim_time, 0, 0, bank.mean_loss(), 0, 0, 0.0)
