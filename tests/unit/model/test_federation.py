"""The bank's federation surface: local updates, adopting a global model, FedProx, pooling, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from flead.model import DeviceBank, ModelConfig
from flead.wire import WireError
from tests.unit.model.helpers import FEATURES, batches, stream

pytestmark = pytest.mark.unit


def _feed(bank: DeviceBank, dev: np.ndarray, t: np.ndarray, v: np.ndarray) -> None:
    for s in batches(len(dev), 128):
        bank.process(dev[s], t[s], v[s])


def test_local_update_is_the_shared_part_with_its_sample_count() -> None:
    """local_update() returns arrays of global_shapes(), the rows learned since the last one."""
    dev, t, v = stream(devices=2, rows=300, seed=1)
    bank = DeviceBank(FEATURES)
    _feed(bank, dev, t, v)
    update = bank.local_update("1")
    assert [w.shape for w in update.weights] == bank.global_shapes()
    assert 0 < update.samples <= 300
    assert update.base_version == 0
    assert np.isfinite(update.loss)
    assert bank.local_update("1").samples == 0  # the counter restarts


def test_a_device_joining_after_adoption_starts_from_the_adopted_version() -> None:
    """A newcomer's first update names the global version it started from, not 0 (else: stale)."""
    dev, t, v = stream(devices=2, rows=300, seed=3)
    bank = DeviceBank(FEATURES)
    first = dev == dev[0]
    _feed(bank, dev[first], t[first], v[first])
    bank.adopt_global(bank.global_weights(), version=7)
    _feed(bank, dev[~first], t[~first], v[~first])
    assert bank.local_update(str(dev[~first][0])).base_version == 7


def test_adopt_global_sets_the_body_and_keeps_heads() -> None:
    """Every device gets the global body; its personal head and statistics are kept."""
    dev, t, v = stream(devices=3, rows=300, seed=2)
    bank = DeviceBank(FEATURES)
    _feed(bank, dev, t, v)
    st = bank.state
    heads = {d: [w[st.slot[d]].copy() for w in st.weights[st.n_shared :]] for d in bank.devices()}
    means = st.arrays["mean"].copy()
    glob = [np.full(s, 0.01, np.float32) for s in bank.global_shapes()]
    bank.adopt_global(glob, 7)
    for d in bank.devices():
        for g, w in zip(glob, st.weights, strict=False):
            np.testing.assert_array_equal(w[st.slot[d]], g)
        for h, w in zip(heads[d], st.weights[st.n_shared :], strict=True):
            np.testing.assert_array_equal(w[st.slot[d]], h)
        assert bank.local_update(d).base_version == 7
    np.testing.assert_array_equal(st.arrays["mean"], means)
    with pytest.raises(ValueError, match="shapes"):
        bank.adopt_global(glob[:-1], 8)
    # a device joining after adoption starts from the global body
    bank.add("new")
    np.testing.assert_array_equal(st.weights[0][st.slot["new"]], glob[0])


def test_global_weights_are_the_init_then_the_adopted_model() -> None:
    """global_weights() is what a new device starts from: the init, then the adopted model."""
    bank = DeviceBank(FEATURES, seed=3)
    init = bank.global_weights()
    assert [w.shape for w in init] == bank.global_shapes()
    bank.add("a")
    np.testing.assert_array_equal(bank.state.weights[0][bank.state.slot["a"]], init[0])
    glob = [np.full(s, 0.5, np.float32) for s in bank.global_shapes()]
    bank.adopt_global(glob, 2)
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
        bank.adopt_global(glob, 1)
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
