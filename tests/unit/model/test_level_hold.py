"""Level hold (`ModelConfig.level_hold`): a lone jump keeps its interior ranked, for a bounded time."""

from __future__ import annotations

import numpy as np
import pytest

from flead.model import DeviceBank, ModelConfig
from flead.model.hold import accept_lasting, find_holds, hold_scores
from flead.model.scoring import KINDS
from tests.unit.model.helpers import FEATURES, batches, stream

pytestmark = pytest.mark.unit

HOLD = KINDS.index("hold")
# a small bank: warm-up and the day-long `adapt` shortened so a test stream holds levels early
SMALL = ModelConfig(warmup=300, adapt=600, hold_rows=120)


def _run(bank: DeviceBank, dev: np.ndarray, t: np.ndarray, v: np.ndarray, size: int = 64):
    parts = [bank.process(dev[s], t[s], v[s]) for s in batches(len(dev), size)]
    return tuple(
        np.concatenate([getattr(p, k) for p in parts]) for k in ("score", "anomaly", "kind")
    )


def _with_shift(start: int, length: int, size: float, seed: int = 11):
    """Two devices; device 1's temperature shifted by `size` degrees on rows [start, start+length)."""
    dev, t, v = stream(devices=2, rows=2400, seed=seed)
    v = v.copy()
    pos = np.array([np.sum(dev[:i] == d) for i, d in enumerate(dev)])
    shifted = (dev == "1") & (pos >= start) & (pos < start + length)
    v[shifted, 0] += size
    return dev, t, v, pos, shifted


def test_an_offsets_interior_ranks_above_healthy_rows_and_raises_no_alarm_itself() -> None:
    """Inside a 100-row offset of one channel, the rows after its flagged first reading score
    above 99 % of the device's healthy rows with the hold; without it they score like healthy
    rows (the forecast starts from the already shifted reading). Held rows stay below the
    threshold: the hold ranks, it does not alarm."""
    dev, t, v, pos, shifted = _with_shift(1500, 100, 8.0)
    score_on, alarm_on, kind_on = _run(DeviceBank(FEATURES, SMALL, seed=2), dev, t, v)
    off = ModelConfig(warmup=300, adapt=600, level_hold=False)
    score_off, _, _ = _run(DeviceBank(FEATURES, off, seed=2), dev, t, v)
    interior = shifted & (pos >= 1502)
    healthy = (dev == "1") & ~shifted & (pos >= 700) & ((pos < 1400) | (pos >= 1800))
    assert alarm_on[shifted & (pos == 1500)].all()  # the jump itself is an alarm
    q99_on = np.quantile(score_on[healthy], 0.99)
    q99_off = np.quantile(score_off[healthy], 0.99)
    assert np.mean(score_on[interior] > q99_on) >= 0.9
    assert np.mean(score_off[interior] > q99_off) <= 0.2
    held = interior & (kind_on == HOLD)
    assert held.sum() >= 0.9 * interior.sum()
    assert not alarm_on[held].any()


def test_a_permanent_change_stops_being_held_within_hold_rows() -> None:
    """A level change that lasts is held for at most `hold_rows` readings (plus one micro-batch),
    then accepted as the new normal: no hold evidence after that, no lock-in."""
    dev, t, v, pos, _ = _with_shift(1200, 10_000, 8.0)
    size = 64
    _, alarm, kind = _run(DeviceBank(FEATURES, SMALL, seed=2), dev, t, v, size)
    mine = dev == "1"
    held_pos = pos[mine & (kind == HOLD)]
    assert len(held_pos) > 50  # it was held ...
    assert held_pos.max() <= 1200 + SMALL.hold_rows + size  # ... for a bounded time
    late = mine & (pos >= 1200 + SMALL.hold_rows + size)
    assert alarm[late].mean() < 0.01


def test_the_first_healthy_reading_after_an_offset_is_not_held_nor_an_alarm() -> None:
    """When the offset ends the reading is back near the held baseline: the hold releases, no
    hold evidence is left on the healthy rows after it, and not one of them is an alarm — the
    first included, although it jumps away from the last (held) reading its forecast starts
    from: a held reading counts as a fault, so the one after it is judged against the baseline
    too."""
    dev, t, v, pos, _ = _with_shift(1500, 80, 8.0)
    _, alarm, kind = _run(DeviceBank(FEATURES, SMALL, seed=2), dev, t, v)
    after = (dev == "1") & (pos >= 1580) & (pos < 1600)
    assert not (kind[after] == HOLD).any()
    assert not alarm[after].any()


def test_a_jump_of_several_channels_together_is_not_held() -> None:
    """Temperature and humidity jumping together is a change of the surroundings, not a faulty
    sensor: neither channel is held."""
    dev, t, v, _, shifted = _with_shift(1500, 100, 8.0)
    v[shifted, 1] -= 12.0  # humidity jumps with it
    _, _, kind = _run(DeviceBank(FEATURES, SMALL, seed=2), dev, t, v)
    assert not (kind[shifted] == HOLD).any()


def test_batched_hold_equals_per_device_hold() -> None:
    """Holds computed for many devices in one micro-batch equal each device processed alone."""
    dev, t, v, _, _ = _with_shift(1500, 100, 8.0)
    cfg = ModelConfig(warmup=300, adapt=600, pool_fleet=False)
    mixed = DeviceBank(FEATURES, cfg, seed=1)
    alone = {d: DeviceBank(FEATURES, cfg, seed=1) for d in np.unique(dev)}
    got_mixed = np.empty(len(dev), np.float32)
    got_alone = np.empty(len(dev), np.float32)
    kinds = np.empty(len(dev), np.int8)
    for s in batches(len(dev), 97):
        idx = np.arange(len(dev))[s]
        res = mixed.process(dev[s], t[s], v[s])
        got_mixed[idx], kinds[idx] = res.score, res.kind
        for d, bank in alone.items():
            mine = idx[dev[idx] == d]
            if len(mine):
                got_alone[mine] = bank.process(dev[mine], t[mine], v[mine]).score
    assert (kinds == HOLD).sum() > 20
    np.testing.assert_allclose(got_mixed, got_alone, rtol=2e-4, atol=1e-5)


def test_find_holds_starts_at_a_jump_ends_on_return_and_is_bounded() -> None:
    """One device, one channel: a run of far readings is held only after a flagged jump, a
    missing reading neither extends nor ends it, a near reading ends it, `max_rows` bounds it."""
    far = np.array([0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1], bool)[:, None]
    onset = np.array([0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0], bool)[:, None]
    valid = np.ones_like(far)
    valid[2] = False  # missing: the run goes on
    far[2] = False
    zero = np.zeros((11, 1), np.int64)
    hold = find_holds(far, onset, valid, np.zeros(11, np.int64), zero, zero, max_rows=3)
    assert hold.held[:, 0].tolist() == [0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0]
    accept, run, onsets = accept_lasting(hold.far_run[-1:], hold.onsets[-1:], max_rows=3)
    assert accept.tolist() == [[True]]
    assert run.tolist() == [[0]]
    assert onsets.tolist() == [[0]]


def test_hold_scores_stay_below_the_threshold_and_skip_the_warm_up() -> None:
    """A held reading scores `rank` x its distance over the channel's scale, capped below the
    threshold; nothing is scored while the threshold is +inf (warm-up)."""
    held = np.ones((3, 1), bool)
    e = np.array([[5.0], [1e6], [1e6]])
    thr = np.array([10.0, 10.0, np.inf], np.float32)
    got = hold_scores(held, e, np.ones((3, 1)), thr, rank=0.8)
    np.testing.assert_allclose(got[:, 0], [4.0, 8.0, 0.0])
