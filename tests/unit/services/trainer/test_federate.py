"""The trainer's Federator: a restart adopts the current global version before it learns."""

from __future__ import annotations

import numpy as np
import pytest

from flead.federation import LocalTransport, ModelVersion, StrategyConfig, make_strategy
from flead.model import DeviceBank, ModelSpec
from flead_trainer.federate import Federator
from flead_trainer.settings import load_settings
from tests.unit.model.helpers import FEATURES, batches, stream

pytestmark = pytest.mark.unit


def _federator(bank: DeviceBank, served: ModelVersion) -> Federator:
    s = load_settings(model_features=",".join(FEATURES))
    transport = LocalTransport(make_strategy(StrategyConfig(), served), lambda: 0.0)
    return Federator(s, bank, transport)


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
    for x, y in zip(joined.weights, v3.tensors, strict=True):
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
