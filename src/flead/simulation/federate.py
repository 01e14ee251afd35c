"""One synchronous round of the in-process aggregator: collect local updates, FedAvg, broadcast."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flead.federation import RoundAccumulator
from flead.model import DeviceBank
from flead.wire import encode_arrays

__all__ = ["RoundLog", "aggregate_round", "observe_round"]


@dataclass(frozen=True)
class RoundLog:
    """What one round did: clock, participants, sample-weighted local loss, bytes, wall time."""

    index: int
    sim_time: float  # stream time at the round's end
    participants: int
    samples: int
    loss: float
    bytes_up: int  # encoded local updates sent to the aggregator
    bytes_down: int  # encoded global model sent to each participant
    aggregate_seconds: float  # collect + encode + accumulate + adopt
    wall_seconds: float = 0.0  # since the previous round: local training plus aggregation


def aggregate_round(bank: DeviceBank, index: int, sim_time: float) -> RoundLog:
    """FedAvg (sample-weighted, incremental) of every device that learned since the last round.

    Each update and the new global model are encoded with `flead.wire.encode_arrays`, as they
    would travel between trainer and aggregator, and their sizes counted.
    """
    start = time.perf_counter()
    acc = RoundAccumulator(bank.global_shapes())
    bytes_up = samples = 0
    loss_sum = 0.0
    for device in bank.devices():
        update = bank.local_update(device)
        if update.samples < 1:
            continue
        meta = {"device": device, "samples": update.samples, "base_version": update.base_version}
        bytes_up += len(encode_arrays(update.weights, meta))
        acc.add(update.weights, update.samples)
        samples += update.samples
        loss_sum += update.samples * update.loss
    participants = acc.participants
    bytes_down = 0
    if participants:
        weights = acc.close()
        bank.adopt_global(weights, bank.version + 1)
        bytes_down = participants * len(encode_arrays(weights, {"version": bank.version}))
    return RoundLog(
        index, sim_time, participants, samples, loss_sum / samples if samples else float("nan"),
        bytes_up, bytes_down, time.perf_counter() - start,
    )  # fmt: skip


def observe_round(bank: DeviceBank, index: int, sim_time: float) -> RoundLog:
    """A round boundary of a mode that does not federate: only its mean loss is recorded."""
    return RoundLog(index, sim_time, 0, 0, bank.mean_loss(), 0, 0, 0.0)
