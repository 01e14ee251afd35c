"""The trainer's Federator: a restart adopts the current global version before it learns."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import REGISTRY

from flead.federation import LocalTransport, ModelVersion, StrategyConfig, Update, make_strategy
from flead.model import DeviceBank, ModelSpec
from flead_trainer.federate import Federator
from flead_trainer.settings import load_settings
from tests.unit.model.helpers import FEATURES, batches, stream

pytestmark = pytest.mark.unit


def _federator(bank: DeviceBank, served: ModelVersion) -> Federator:
    s = load_settings(model_features=",".join(FEATURES))
    transport = LocalTransport(make_strategy(StrategyConfig(), served), lambda: 0.0)
    return Federator(s, bank, transport)


def _learned_with_a_due_update(bank: DeviceBank, transport: LocalTransport) -> Federator:
    """A Federator on `transport` (backoff cap 4 s) whose one device learned 50 readings, so
    an update is due at the next tick."""
    s = load_settings(
        model_features=",".join(FEATURES),
        trainer_update_every_samples=10,
        trainer_aggregator_backoff_max_seconds=4.0,
    )
    fed = Federator(s, bank, transport)
    fed.join(attempts=1)
    dev, t, v = stream(devices=1, rows=50)
    bank.process(dev, t, v)
    fed.learned([("d", 50)])
    return fed


def test_restart_with_an_unchanged_global_version_adopts_it_before_learning() -> None:
    """Checkpoint at global version 3, restart, aggregator still at 3: join() adopts version 3,
    restored devices keep their weights and unsent samples, a device that joins afterwards
    starts from version 3's weights at base 3 (not the random init at base 0)."""
    spec = ModelSpec.of(FEATURES)
    v3 = ModelVersion(spec, 3, tuple(np.full(t.shape, 0.05, np.float32) for t in spec.tensors()))
    bank = DeviceBank(FEATURES)
    bank.adopt(v3)
    dev, t, v = stream(devices=2, rows=200)
    for s in batches(len(dev), 100):
        bank.process(dev[s], t[s], v[s])
    blobs = {d: bank.export_state(d) for d in bank.devices()}

    restarted = DeviceBank(FEATURES)
    for d, blob in blobs.items():
        restarted.import_state(d, blob)
    fed = _federator(restarted, v3)
    fed.join()
    assert (restarted.adopted, fed.version) == (True, 3)
    for d in blobs:
        a, b = bank.local_update(d), restarted.local_update(d)
        assert (b.base_version, b.samples) == (3, a.samples)
        for x, y in zip(a.weights, b.weights, strict=True):
            np.testing.assert_array_equal(x, y)
    restarted.add("newcomer")
    joined = restarted.local_update("newcomer")
    assert joined.base_version == 3
    for x, y in zip(joined.weights, v3.tensors[: len(joined.weights)], strict=True):
        np.testing.assert_array_equal(x, y)


def test_an_unreachable_aggregator_does_not_stop_the_trainer() -> None:
    """join() gives up after its attempts (detection goes on) and a later poll adopts."""

    class Late(LocalTransport):
        calls = 0

        def fetch(self, have: int | None) -> ModelVersion | None:
            self.calls += 1
            return None if self.calls <= 2 else super().fetch(have)

    bank = DeviceBank(FEATURES)
    v0 = ModelVersion.initial(bank.spec)
    late = Late(make_strategy(StrategyConfig(), v0), lambda: 0.0)
    fed = Federator(load_settings(model_features=",".join(FEATURES)), bank, late)
    assert fed.join(attempts=2, retry_seconds=0.0) is False
    assert not bank.adopted
    fed.sync_global(force=True)
    assert bank.adopted


def test_a_trainer_of_another_spec_refuses_to_start_in_one_line() -> None:
    """join() against an aggregator of another spec exits with one line naming both specs."""
    bank = DeviceBank(FEATURES)
    other = ModelSpec.of(FEATURES, seed=7)
    with pytest.raises(SystemExit) as caught:
        _federator(bank, ModelVersion.initial(other)).join()
    text = str(caught.value)
    assert "\n" not in text
    assert str(bank.spec) in text
    assert str(other) in text


def test_an_update_the_aggregator_does_not_take_waits_with_its_samples_and_capped_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While sends fail (unreachable, or 503 while the aggregator's MongoDB is down) the samples
    stay in the bank, the waits between tries double up to the cap, flead_dependency_up for
    the aggregator is 0; the first delivered send spends the samples and resets the backoff."""
    from flead.federation import Outcome
    from flead_trainer import federate

    class Flaky(LocalTransport):
        down = True
        sends = 0

        def send(self, update: Update) -> Outcome:
            self.sends += 1
            return Outcome.ERROR if self.down else super().send(update)

    clock = [1000.0]
    monkeypatch.setattr(federate.time, "monotonic", lambda: clock[0])
    bank = DeviceBank(FEATURES)
    flaky = Flaky(make_strategy(StrategyConfig(), ModelVersion.initial(bank.spec)), lambda: 0.0)
    fed = _learned_with_a_due_update(bank, flaky)
    before = bank.pending(list(bank.devices()))[0].tolist()
    waits = []
    for _ in range(5):
        fed.tick()
        waits.append(fed.backoff_until - clock[0])
        fed.tick()  # inside the backoff: nothing is sent
        clock[0] = fed.backoff_until
    assert flaky.sends == 5
    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert bank.pending(list(bank.devices()))[0].tolist() == before  # samples kept
    assert not fed.aggregator.up
    assert "update send" in (fed.aggregator.reason or "")
    assert REGISTRY.get_sample_value("flead_dependency_up", {"dependency": "aggregator"}) == 0
    flaky.down = False
    fed.tick()
    assert bank.pending(list(bank.devices()))[0].tolist() == [0] * len(before)  # spent once
    assert fed.aggregator.up
    assert fed.backoff_until <= clock[0]
    assert REGISTRY.get_sample_value("flead_dependency_up", {"dependency": "aggregator"}) == 1


def test_a_retry_after_from_the_aggregator_is_waited_out_within_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 503 with Retry-After: 3 makes the trainer wait at least 3 s before the next try (its
    own backoff 1, 2 s would be sooner), and never longer than its cap (4 s) however long the
    server asks."""
    from flead.federation import Outcome
    from flead_trainer import federate

    class Busy(LocalTransport):
        retry_after: float | None = 3.0

        def send(self, update: Update) -> Outcome:
            return Outcome.ERROR

    clock = [1000.0]
    monkeypatch.setattr(federate.time, "monotonic", lambda: clock[0])
    bank = DeviceBank(FEATURES)
    busy = Busy(make_strategy(StrategyConfig(), ModelVersion.initial(bank.spec)), lambda: 0.0)
    fed = _learned_with_a_due_update(bank, busy)
    waits = []
    for asked in (3.0, 3.0, 3.0, 60.0):
        busy.retry_after = asked
        fed.tick()
        waits.append(fed.backoff_until - clock[0])
        clock[0] = fed.backoff_until
    assert waits == [3.0, 3.0, 4.0, 4.0]
