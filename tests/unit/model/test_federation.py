"""The bank's federation surface: local updates, adopting a ModelVersion, FedProx, pooling, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from flead.federation import ModelVersion
from flead.model import DeviceBank, ModelConfig, ModelSpec, SpecMismatch
from flead.wire import WireError
from tests.unit.model.helpers import FEATURES, batches, stream

pytestmark = pytest.mark.unit


def _feed(bank: DeviceBank, dev: np.ndarray, t: np.ndarray, v: np.ndarray) -> None:
    for s in batches(len(dev), 128):
        bank.process(dev[s], t[s], v[s])


def _version(bank: DeviceBank, tensors: list[np.ndarray], number: int) -> ModelVersion:
    """A version with these network tensors and neutral fleet priors."""
    priors = bank.spec.initial_tensors()[len(tensors) :]
    return ModelVersion(bank.spec, number, (*tensors, *priors))


def _const(bank: DeviceBank, value: float) -> list[np.ndarray]:
    return [np.full(s, value, np.float32) for s in bank.global_shapes()]


def test_local_update_keeps_its_samples_until_marked_sent() -> None:
    """local_update() is the shared part with the samples since the last delivered update;
    reading it resets nothing (a failed send loses nothing), mark_sent subtracts what went out."""
    dev, t, v = stream(devices=2, rows=300, seed=1)
    bank = DeviceBank(FEATURES)
    _feed(bank, dev, t, v)
    update = bank.local_update("1")
    assert [w.shape for w in update.weights] == bank.global_shapes()
    assert 0 < update.samples <= 300
    assert (update.base_version, bank.local_update("1").samples) == (0, update.samples)
    assert np.isfinite(update.loss)
    bank.mark_sent(["1", "gone"], [update.samples - 5, 9])
    assert bank.local_update("1").samples == 5


def test_a_device_joining_after_adoption_starts_from_the_adopted_version() -> None:
    """A newcomer's first update names the global version it started from, not 0 (else: stale)."""
    dev, t, v = stream(devices=2, rows=300, seed=3)
    bank = DeviceBank(FEATURES)
    first = dev == dev[0]
    _feed(bank, dev[first], t[first], v[first])
    bank.adopt(_version(bank, bank.global_weights(), 7))
    _feed(bank, dev[~first], t[~first], v[~first])
    assert bank.local_update(str(dev[~first][0])).base_version == 7
    assert bank.version == 7


def test_adopt_sets_the_body_and_keeps_what_is_personal() -> None:
    """Every device gets the global body and a fresh optimiser for it; its personal head, the
    head's Adam moments and step count, and its statistics are kept; unsent samples are spent."""
    dev, t, v = stream(devices=3, rows=300, seed=2)
    bank = DeviceBank(FEATURES)
    _feed(bank, dev, t, v)
    st = bank.state
    ns = st.n_shared
    kept = {
        d: [a[st.slot[d]].copy() for a in (*st.weights[ns:], *st.m[ns:], *st.v[ns:])]
        for d in bank.devices()
    }
    steps = st.wstep.copy()
    means = st.arrays["mean"].copy()
    glob = _const(bank, 0.01)
    assert bank.adopt(_version(bank, glob, 7)) == ["1", "2", "3"]
    for d in bank.devices():
        slot = st.slot[d]
        for g, w, m in zip(glob, st.weights, st.m, strict=False):
            np.testing.assert_array_equal(w[slot], g)
            assert not m[slot].any()
        now = [a[slot] for a in (*st.weights[ns:], *st.m[ns:], *st.v[ns:])]
        for before, after in zip(kept[d], now, strict=True):
            np.testing.assert_array_equal(before, after)
        assert st.sstep[slot] == 0
        update = bank.local_update(d)
        assert (update.base_version, update.samples) == (7, 0)
    np.testing.assert_array_equal(st.wstep, steps)
    assert steps[[st.slot[d] for d in bank.devices()]].min() > 0  # the control: heads had learned
    np.testing.assert_array_equal(st.arrays["mean"], means)
    bank.add("new")  # a device joining after adoption starts from the global body
    np.testing.assert_array_equal(st.weights[0][st.slot["new"]], glob[0])


def test_devices_already_at_the_version_keep_their_weights() -> None:
    """Adopting the version a checkpointed device is based on (a restart) leaves it as it was."""
    dev, t, v = stream(devices=2, rows=300, seed=6)
    bank = DeviceBank(FEATURES)
    v3 = _version(bank, _const(bank, 0.02), 3)
    bank.adopt(v3)
    _feed(bank, dev, t, v)
    blob = bank.export_state("1")
    restarted = DeviceBank(FEATURES)
    restarted.import_state("1", blob)
    before = restarted.local_update("1")
    assert restarted.adopt(v3) == []
    after = restarted.local_update("1")
    assert (after.samples, after.base_version) == (before.samples, 3)
    for a, b in zip(before.weights, after.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert restarted.adopt(_version(bank, _const(bank, 0.0), 4)) == ["1"]  # a newer one moves it


def test_a_version_of_another_spec_is_refused_in_one_line() -> None:
    """adopt() of another model raises SpecMismatch whose one-line message names both specs."""
    bank = DeviceBank(FEATURES)
    other = ModelSpec(FEATURES, hidden=(8,), seed=0)
    with pytest.raises(SpecMismatch) as caught:
        bank.adopt(ModelVersion.initial(other))
    text = str(caught.value)
    assert "\n" not in text
    assert str(bank.spec) in text
    assert str(other) in text
    assert not bank.adopted


def test_global_weights_are_the_init_then_the_adopted_model() -> None:
    """global_weights() is what a new device starts from: the init, then the adopted model."""
    bank = DeviceBank(FEATURES, seed=3)
    init = bank.global_weights()
    assert [w.shape for w in init] == bank.global_shapes()
    for a, b in zip(init, bank.spec.initial_tensors()[: len(init)], strict=True):
        np.testing.assert_array_equal(a, b)
    bank.add("a")
    np.testing.assert_array_equal(bank.state.weights[0][bank.state.slot["a"]], init[0])
    glob = _const(bank, 0.5)
    bank.adopt(_version(bank, glob, 2))
    for a, b in zip(bank.global_weights(), glob, strict=True):
        np.testing.assert_array_equal(a, b)


def test_whole_network_can_be_shared() -> None:
    """personal_head=False federates every layer."""
    bank = DeviceBank(FEATURES, ModelConfig(personal_head=False))
    assert len(bank.global_shapes()) == len(bank.state.weights)


def test_fedprox_keeps_local_weights_near_the_global_model() -> None:
    """With a large mu, local training drifts less from the adopted global body."""
    dev, t, v = stream(devices=2, rows=600, seed=3)
    drift = {}
    for mu in (0.0, 10.0):
        bank = DeviceBank(FEATURES, ModelConfig(prox_mu=mu, lr=0.01))
        glob = [w[0].copy() for w in bank.state.weights[: bank.state.n_shared]]
        bank.adopt(_version(bank, glob, 1))
        _feed(bank, dev, t, v)
        update = bank.local_update("1")
        drift[mu] = sum(
            float(np.sum((a - b) ** 2)) for a, b in zip(update.weights, glob, strict=True)
        )
    assert drift[10.0] < 0.5 * drift[0.0]


def test_pooled_bank_shares_one_network() -> None:
    """pooled=True: one network for all devices, per-device normalisation kept."""
    dev, t, v = stream(devices=3, rows=300, seed=4)
    bank = DeviceBank(FEATURES, pooled=True)
    _feed(bank, dev, t, v)
    assert bank.state.weights[0].shape[0] == 1
    ups = [bank.local_update(d).weights for d in ("1", "2")]
    for a, b in zip(*ups, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(bank.state.arrays["mean"][0], bank.state.arrays["mean"][1])


def test_export_import_round_trip_continues_identically() -> None:
    """A device restored from its checkpoint scores the next readings exactly as the original."""
    dev, t, v = stream(devices=2, rows=600, seed=5)
    first, rest = slice(0, 800), slice(800, 1200)
    bank = DeviceBank(FEATURES)
    _feed(bank, dev[first], t[first], v[first])
    blob = bank.export_state("1")
    assert blob[:4] == b"FLD1"
    restored = DeviceBank(FEATURES, seed=99)  # different init: everything must come from the blob
    restored.import_state("1", blob)
    mine = np.flatnonzero(dev[rest] == "1") + 800
    a = bank.process(dev[mine], t[mine], v[mine])
    b = restored.process(dev[mine], t[mine], v[mine])
    np.testing.assert_array_equal(a.score, b.score)
    np.testing.assert_array_equal(a.threshold, b.threshold)


def test_import_rejects_foreign_or_corrupt_blobs() -> None:
    """A blob from another feature set, or a corrupted one, is refused with a reason."""
    bank = DeviceBank(FEATURES)
    bank.process(np.array(["1"], dtype=object), np.array([0.0]), np.ones((1, 4)))
    blob = bank.export_state("1")
    other = DeviceBank(("a", "b", "c", "d"))
    with pytest.raises(WireError, match="bad_state"):
        other.import_state("1", blob)
    broken = bytearray(blob)
    broken[len(broken) // 2] ^= 0xFF
    with pytest.raises(WireError, match="checksum"):
        bank.import_state("1", bytes(broken))


def _newcomer_alarms(use_priors: bool) -> np.ndarray:
    """Alarms of a device that joins a bank after it adopted a version carrying the fleet's
    statistics (learned by 4 other devices over 3000 rows); a spike hits its 200th row."""
    dev, t, v = stream(devices=4, rows=3000, seed=5)
    fleet = DeviceBank(FEATURES, seed=0)
    _feed(fleet, dev, t, v)
    tensors = fleet.weighted_shared(fleet.devices(), np.full(4, 0.25))
    bank = DeviceBank(FEATURES, ModelConfig(use_priors=use_priors), seed=0)
    bank.adopt(ModelVersion(bank.spec, 1, tuple(tensors)))
    dev2, t2, v2 = stream(devices=1, rows=400, seed=9)
    v2 = v2.copy()
    v2[200, 0] += 8.0
    parts = [bank.process(dev2[s], t2[s], v2[s]) for s in batches(len(dev2), 50)]
    return np.concatenate([p.anomaly for p in parts])


def test_a_newcomer_is_served_from_the_fleet_priors() -> None:
    """With the fleet's priors a new device is scored after a short warm-up (its residual
    variance, repeat and gap rates and score scale lean on the fleet's): the spike on its
    200th reading is caught; without them the device is still warming up and flags nothing."""
    with_priors = _newcomer_alarms(True)
    assert with_priors[200]
    assert with_priors[120:].sum() <= 3  # and the priors do not make it jumpy
    assert not _newcomer_alarms(False).any()
