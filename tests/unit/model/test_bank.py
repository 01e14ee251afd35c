"""DeviceBank: prequential micro-batches over many devices, membership, stuck values, warm-up."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from flead.model import DeviceBank, ModelConfig
from tests.unit.model.helpers import FEATURES, batches, stream

pytestmark = pytest.mark.unit


def _run(bank: DeviceBank, dev: np.ndarray, t: np.ndarray, v: np.ndarray, size: int) -> tuple:
    parts = [bank.process(dev[s], t[s], v[s]) for s in batches(len(dev), size)]
    return tuple(np.concatenate([getattr(p, k) for p in parts]) for k in ("score", "anomaly"))


def test_batched_equals_per_device_processing() -> None:
    """Mixed micro-batches of many devices give each device what it gets on its own."""
    dev, t, v = stream(devices=5, rows=400, seed=3)
    mixed = DeviceBank(FEATURES, seed=1)
    score_mixed = np.empty(len(dev), np.float32)
    alone = {d: DeviceBank(FEATURES, seed=1) for d in np.unique(dev)}
    score_alone = np.empty(len(dev), np.float32)
    for s in batches(len(dev), 97):
        idx = np.arange(len(dev))[s]
        score_mixed[idx] = mixed.process(dev[s], t[s], v[s]).score
        for d, bank in alone.items():
            mine = idx[dev[idx] == d]
            if len(mine):
                score_alone[mine] = bank.process(dev[mine], t[mine], v[mine]).score
    np.testing.assert_allclose(score_mixed, score_alone, rtol=2e-4, atol=1e-5)


def test_no_look_ahead_and_devices_are_isolated() -> None:
    """A row's score depends neither on later rows of its batch nor on other devices' rows."""
    dev, t, v = stream(devices=3, rows=300, seed=4)
    bank = DeviceBank(FEATURES)
    _run(bank, dev[:600], t[:600], v[:600], 200)
    batch = slice(600, 800)
    ref = copy.deepcopy(bank).process(dev[batch], t[batch], v[batch]).score
    changed = v[batch].copy()
    later = np.arange(200) >= 100
    changed[later] += 50.0  # every later row of every device
    other = dev[batch] != "1"
    changed[other] -= 7.0  # and every row of the other devices
    got = copy.deepcopy(bank).process(dev[batch], t[batch], changed).score
    keep = ~later & ~other
    np.testing.assert_allclose(got[keep], ref[keep], rtol=1e-5)


def test_score_first_then_learn() -> None:
    """Scoring a batch uses the weights from before it; processing it then changes them."""
    dev, t, v = stream(devices=2, rows=300, seed=5)
    bank = DeviceBank(FEATURES)
    _run(bank, dev[:400], t[:400], v[:400], 100)
    before = [w.copy() for w in bank.state.weights]
    twin = copy.deepcopy(bank)
    first = bank.process(dev[400:500], t[400:500], v[400:500]).score
    assert any(not np.array_equal(a, b) for a, b in zip(before, bank.state.weights, strict=True))
    again = twin.process(dev[400:500], t[400:500], v[400:500]).score
    np.testing.assert_array_equal(first, again)


def test_warmup_flags_nothing_and_threshold_is_infinite() -> None:
    """During its first `warmup` rows a device is never flagged, whatever it reports."""
    cfg = ModelConfig(warmup=200)
    dev, t, v = stream(devices=2, rows=300, seed=6)
    v = v.copy()
    v[::7, 0] = 500.0  # wild values everywhere
    bank = DeviceBank(FEATURES, cfg)
    res = [bank.process(dev[s], t[s], v[s]) for s in batches(len(dev), 50)]
    thr = np.concatenate([r.threshold for r in res])
    flagged = np.concatenate([r.anomaly for r in res])
    position = np.array([np.sum(dev[:i] == d) for i, d in enumerate(dev)])
    assert np.isinf(thr[position < 200]).all()
    assert not flagged[position < 200].any()
    assert np.isfinite(thr[position >= 200]).all()


def test_stuck_value_stays_flagged() -> None:
    """A sensor stuck at 122.153 after its warm-up is flagged (almost) every reading, no adapting."""
    dev, t, v = stream(devices=3, rows=3000, seed=7)
    v = v.copy()
    pos = np.array([np.sum(dev[:i] == d) for i, d in enumerate(dev)])
    stuck = (dev == "2") & (pos >= 1200)
    v[stuck, 0] = 122.153
    bank = DeviceBank(FEATURES)
    _, flagged = _run(bank, dev, t, v, 256)
    assert flagged[stuck].mean() >= 0.99
    healthy = (dev != "2") & (pos >= 600)
    assert flagged[healthy].mean() < 0.01


def test_spike_is_flagged_and_scores_rank_it_high() -> None:
    """A 30-degree spike on a healthy stream is flagged."""
    dev, t, v = stream(devices=2, rows=1500, seed=8)
    v = v.copy()
    rows = np.flatnonzero(dev == "1")[[900, 1100, 1300]]
    v[rows, 0] += 30.0
    _, flagged = _run(DeviceBank(FEATURES), dev, t, v, 128)
    assert flagged[rows].all()


def test_join_and_leave_keep_other_devices_intact() -> None:
    """New devices (growing capacity) and removals leave everyone else's weights untouched."""
    dev, t, v = stream(devices=3, rows=200, seed=9)
    bank = DeviceBank(FEATURES, capacity=2)
    _run(bank, dev, t, v, 100)
    keep = {d: [w[bank.state.slot[d]].copy() for w in bank.state.weights] for d in ("1", "2")}
    many = np.array([f"new-{i}" for i in range(20)], dtype=object)
    bank.process(many, np.full(20, t[-1] + 31), np.ones((20, 4), np.float32))
    bank.remove("3")
    assert set(bank.devices()) == {"1", "2", *many}
    for d, ws in keep.items():
        for a, w in zip(ws, bank.state.weights, strict=True):
            np.testing.assert_array_equal(a, w[bank.state.slot[d]])
    bank.process(np.array(["late"], dtype=object), np.array([t[-1] + 62]), np.ones((1, 4)))
    slot = bank.state.slot["late"]
    assert bank.state.arrays["seen"][slot] == 1  # a reused slot starts fresh


def test_missing_values_and_empty_batches() -> None:
    """NaN channels, all-NaN rows and empty batches are handled; scores stay finite."""
    dev, t, v = stream(devices=2, rows=700, seed=10)
    v = v.copy()
    v[::5, 2] = np.nan
    v[::97] = np.nan
    bank = DeviceBank(FEATURES)
    score, _ = _run(bank, dev, t, v, 128)
    assert np.isfinite(score).all()
    empty = bank.process(np.array([], dtype=object), np.array([]), np.zeros((0, 4)))
    assert len(empty.score) == 0


def _a_scores(pool: bool, with_others: bool) -> np.ndarray:
    """Scores of device 1 when devices 2-4 (whose light sits on plateaus) are or are not in the bank."""
    dev, t, v = stream(devices=4, rows=900, seed=6)
    v = v.copy()
    rng = np.random.default_rng(6)
    plateau = (dev != "1") & (rng.random(len(dev)) < 0.6)
    v[plateau, 2] = 1000.0  # saturated light, in runs the fleet shares
    v[(dev == "1") & (rng.random(len(dev)) < 0.3), 2] = 1000.0
    bank = DeviceBank(FEATURES, ModelConfig(pool_fleet=pool, warmup=50), seed=2)
    out = []
    for s in batches(len(dev), 128):  # the same micro-batches for device 1 either way
        idx = np.arange(len(dev))[s]
        idx = idx if with_others else idx[dev[idx] == "1"]
        res = bank.process(dev[idx], t[idx], v[idx])
        out.append(res.score[dev[idx] == "1"])
    return np.concatenate(out)


def test_local_bank_shares_nothing_between_devices() -> None:
    """With pool_fleet off (the `local` mode) a device scores the same with or without other
    devices in its bank; with it on, the fleet's plateaus and repeat rates change its scores."""
    np.testing.assert_allclose(
        _a_scores(False, True), _a_scores(False, False), rtol=2e-4, atol=1e-5
    )
    assert not np.allclose(_a_scores(True, True), _a_scores(True, False), rtol=2e-4, atol=1e-5)


def _after_spike_alarms(after_fault: bool) -> int:
    """Alarms on the first reading after each of 20 temperature spikes, with or without the
    slow-baseline check after a flagged reading."""
    dev, t, v = stream(devices=1, rows=3000, seed=8)
    v = v.copy()
    spikes = np.arange(1200, 3000, 90)
    v[spikes, 0] += 8.0
    bank = DeviceBank(FEATURES, ModelConfig(baseline_after_fault=after_fault, warmup=300), seed=3)
    _, anomaly = _run(bank, dev, t, v, 64)
    assert anomaly[spikes].mean() > 0.9  # the spikes themselves are caught either way
    return int(anomaly[spikes + 1].sum())


def test_first_reading_after_a_spike_is_not_an_alarm() -> None:
    """The reading after a spike jumps back as far as the spike jumped out, so a forecast from
    the previous reading alone flags it too; judged against the slow baseline it is normal."""
    assert _after_spike_alarms(False) >= 10
    assert _after_spike_alarms(True) <= 1
