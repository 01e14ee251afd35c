"""Participant: cadence, one partial aggregate per round, deterministic ids, failed sends keep
their samples, per-device updates for robust rules, adoption on (re)start."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from flead.federation import (
    Cadence,
    LocalTransport,
    ModelVersion,
    Outcome,
    Participant,
    Rule,
    StrategyConfig,
    Update,
    bundle_blob,
    make_strategy,
)
from flead.model import DeviceBank
from tests.unit.model.helpers import FEATURES, batches, stream

pytestmark = pytest.mark.unit


class Down:
    """A transport whose sends fail (the aggregator is unreachable)."""

    def __init__(self) -> None:
        self.sent: list[Update] = []

    def send(self, update: Update) -> Outcome:
        self.sent.append(update)
        return Outcome.ERROR

    def send_many(self, updates: Sequence[Update]) -> Outcome:
        self.sent.extend(updates)
        return Outcome.ERROR

    def fetch(self, have: int | None) -> ModelVersion | None:
        return None


def fed_bank(devices: int = 3, rows: int = 200, seed: int = 0) -> DeviceBank:
    """A bank that learned a little from `devices` devices."""
    bank = DeviceBank(FEATURES)
    dev, t, v = stream(devices=devices, rows=rows, seed=seed)
    for s in batches(len(dev), 128):
        bank.process(dev[s], t[s], v[s])
    return bank


def local(config: StrategyConfig | None = None) -> tuple[DeviceBank, LocalTransport, Participant]:
    """A learned bank, a strategy behind the in-memory transport, a participant that adopted v0."""
    bank = fed_bank()
    strategy = make_strategy(
        config or StrategyConfig(min_updates=1), ModelVersion.initial(bank.spec)
    )
    transport = LocalTransport(strategy, lambda: 0.0)
    p = Participant("g0", bank, transport, Cadence(every_samples=50, every_seconds=30.0))
    p.bank.adopt(strategy.current)
    p.learned(0.0)
    return bank, transport, p


def test_cadence_by_samples_or_time() -> None:
    """The trainer is due when a device has every_samples, or every_seconds after its clock
    started with any sample; then every device that learned goes."""
    bank = fed_bank()
    p = Participant("g0", bank, Down(), Cadence(every_samples=10_000, every_seconds=5.0))
    p.learned(0.0)
    assert p.due(4.0) == []
    assert p.due(5.0) == ["1", "2", "3"]
    p.cadence = Cadence(every_samples=1, every_seconds=1e9)
    assert p.due(0.0) == ["1", "2", "3"]
    bank.mark_sent(["1", "2"], [10_000, 10_000])
    assert p.due(0.0) == ["3"]


def test_one_partial_aggregate_per_round_is_the_devices_fedavg() -> None:
    """With a FedAvg strategy a tick sends ONE update: the sample-weighted mean, the total."""
    bank, _, p = local()
    ups = [bank.local_update(d) for d in bank.devices()]
    total = sum(u.samples for u in ups)
    sent = p.tick(100.0)
    assert [s.outcome for s in sent] == [Outcome.ACCEPTED]
    u = sent[0].update
    assert (u.samples, u.devices, u.sender, u.base_version) == (total, 3, "g0", 0)
    assert len(u.tensors) == len(bank.spec.tensors())  # the network, then the fleet priors
    for i, t in enumerate(u.tensors[: len(ups[0].weights)]):
        mean = sum(x.samples * x.weights[i].astype(np.float64) for x in ups) / total
        np.testing.assert_allclose(t, mean, rtol=1e-5, atol=1e-7)
    assert all(bank.local_update(d).samples == 0 for d in bank.devices())


def test_update_ids_are_deterministic() -> None:
    """The same data gives the same id (a resend is a duplicate); other data another id."""
    first = [u.update_id for u, _, _ in local()[2].updates(["1", "2", "3"])]
    again = [u.update_id for u, _, _ in local()[2].updates(["1", "2", "3"])]
    fewer = [u.update_id for u, _, _ in local()[2].updates(["1", "2"])]
    assert first == again
    assert first != fewer


def test_a_resend_after_a_crash_is_refused_as_duplicate() -> None:
    """A trainer that restarts from the same state sends the same id: the strategy refuses it."""
    _, transport, p = local(StrategyConfig(min_updates=5))
    assert p.tick(100.0)[0].outcome is Outcome.ACCEPTED
    again = DeviceBank(FEATURES)  # restored from a checkpoint taken before the send
    for d in ["1", "2", "3"]:
        again.import_state(d, fed_bank().export_state(d))
    restarted = Participant("g0", again, transport, p.cadence)
    restarted.sync()
    restarted.learned(0.0)
    assert restarted.tick(100.0)[0].outcome is Outcome.DUPLICATE


def test_a_failed_send_keeps_the_samples_and_is_resent_with_the_same_id() -> None:
    """Transport down: the samples stay; the next tick sends the identical update id."""
    bank = fed_bank()
    before = {d: bank.local_update(d).samples for d in bank.devices()}
    down = Down()
    p = Participant("g0", bank, down, Cadence(every_samples=1))
    p.learned(0.0)
    assert [s.outcome for s in p.tick(1.0)] == [Outcome.ERROR]
    assert {d: bank.local_update(d).samples for d in bank.devices()} == before
    p.tick(2.0)
    assert down.sent[0].update_id == down.sent[1].update_id


def test_a_robust_strategy_gets_one_update_per_device_in_one_bundle() -> None:
    """Granularity PER_DEVICE (median): after adopting, a tick sends each device's own update,
    all in one bundle (one message, counted once as the trainer's contribution)."""
    _, transport, p = local(StrategyConfig(rule=Rule.MEDIAN, min_updates=10, max_norm=None))
    p.bank.state.global_ = None  # pretend a fresh start: sync adopts whatever is served
    assert p.sync() is not None
    sent = p.tick(100.0)
    assert sorted(s.update.sender for s in sent) == ["1", "2", "3"]
    assert all((s.update.devices, s.update.via) == (1, "g0") for s in sent)
    assert transport.strategy.pending == 3
    assert sum(s.nbytes for s in sent) == len(bundle_blob([s.update for s in sent]))


def test_sync_adopts_on_start_even_an_equal_version() -> None:
    """Before its first adoption a participant adopts the served version whatever its number;
    afterwards only newer ones."""
    bank = fed_bank()
    v = ModelVersion.initial(bank.spec)
    strategy = make_strategy(StrategyConfig(), v)
    p = Participant("g0", bank, LocalTransport(strategy, lambda: 0.0))
    assert not bank.adopted
    assert p.sync() is not None
    assert bank.adopted
    assert p.sync() is None


def test_sends_and_adoptions_report_the_devices_they_changed() -> None:
    """drain_changed() names the devices a delivered send or an adoption changed, once."""
    bank, _, p = local()
    p.drain_changed()
    p.tick(100.0)  # delivered, and the round (min_updates=1) closed: version 1 is served
    assert p.drain_changed() == {"1", "2", "3"}
    assert p.drain_changed() == set()
    bank.add("4")  # joins at version 0, like the others
    p.sync()  # adopting version 1 moves every device not yet based on it
    assert p.drain_changed() == {"1", "2", "3", "4"}
    assert bank.version == 1
