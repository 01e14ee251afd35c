"""Strategies: validation with reasons, incremental FedAvg / robust / FedBuff, staleness, lineage."""

from __future__ import annotations

import numpy as np
import pytest

from flead.federation import (
    FedBuff,
    Granularity,
    ModelVersion,
    Policy,
    Rule,
    Strategy,
    StrategyConfig,
    SyncFedAvg,
    SyncRobust,
    Update,
    UpdateRejected,
    make_strategy,
)
from flead.model import ModelSpec

pytestmark = pytest.mark.unit

SPEC = ModelSpec(("a",), hidden=(2,), personal_head=True)
SHAPES = [t.shape for t in SPEC.tensors()]


def v0() -> ModelVersion:
    """A zero version 0 of the tiny spec."""
    return ModelVersion(SPEC, 0, tuple(np.zeros(s, np.float32) for s in SHAPES))


def up(uid: str, value: float, samples: int = 10, base: int = 0, at: float = 0.0) -> Update:
    """An update whose every tensor entry is `value`."""
    return Update(uid, "t-" + uid, samples, base, [np.full(s, value, np.float32) for s in SHAPES],
                  loss=1.0, received_at=at)  # fmt: skip


def advance(s: Strategy, now: float = 1.0) -> ModelVersion:
    """Close the round and adopt the result (what the services do once it is stored)."""
    closed = s.close(now)
    assert closed is not None
    s.adopt(closed.version)
    return closed.version


def test_sync_fedavg_is_the_sample_weighted_mean_with_lineage() -> None:
    """Two updates (10 and 30 samples) close a round of min_updates=2 at their weighted mean."""
    s = make_strategy(StrategyConfig(min_updates=2), v0())
    assert isinstance(s, SyncFedAvg)
    s.accept(up("a", 0.1, 10))
    assert not s.due(0.0)
    s.accept(up("b", 0.5, 30))
    assert s.due(0.0)
    v1 = advance(s)
    np.testing.assert_allclose(v1.tensors[0], 0.4, rtol=1e-6)
    assert (v1.version, v1.lineage.update_ids, v1.lineage.samples) == (1, ("a", "b"), 40)
    assert (v1.lineage.parent, v1.lineage.rule) == (0, "fedavg")
    assert (s.pending, s.current.version) == (0, 1)


def test_a_round_counts_participants_not_updates() -> None:
    """min_updates counts participants: two updates of one trainer (or per-device updates sent
    via one trainer) are one participant; a second trainer makes the round due. FedBuff's
    buffer_size counts updates."""
    s = make_strategy(StrategyConfig(min_updates=2, rule=Rule.MEDIAN, max_norm=None), v0())
    for d in ("d1", "d2", "d3"):
        s.accept(Update(f"t1-{d}", d, 5, 0, up("x", 0.1).tensors, via="t1"))
    assert (s.pending, s.due(0.0)) == (3, False)
    s.accept(Update("t2-d4", "d4", 5, 0, up("x", 0.1).tensors, via="t2"))
    assert s.due(0.0)
    f = make_strategy(StrategyConfig(min_updates=2), v0())
    f.accept(Update("a1", "t1", 5, 0, up("x", 0.1).tensors))
    f.accept(Update("a2", "t1", 5, 0, up("x", 0.1).tensors))
    assert not f.due(0.0)
    buff = make_strategy(StrategyConfig(policy=Policy.ASYNC, buffer_size=2), v0())
    buff.accept(Update("b1", "t1", 5, 0, up("x", 0.1).tensors))
    buff.accept(Update("b2", "t1", 5, 0, up("x", 0.1).tensors))
    assert buff.due(0.0)  # FedBuff's buffer counts updates


def test_close_does_not_change_the_strategy_until_adopted() -> None:
    """close() only computes: the round and the current version stay until adopt()."""
    s = make_strategy(StrategyConfig(min_updates=1), v0())
    s.accept(up("a", 0.2))
    assert s.close(0.0) is not None
    assert (s.current.version, s.pending) == (0, 1)


def test_stale_steps_are_taken_against_their_own_base() -> None:
    """An update based on version 0 arriving at version 1 moves the model by ITS step, not by
    (its weights - version 1)."""
    s = make_strategy(StrategyConfig(min_updates=1), v0())
    s.accept(up("a", 1.0))
    advance(s)  # version 1 = 1.0 everywhere
    s.accept(up("b", 0.5, base=0))  # a step of +0.5 from version 0
    v2 = advance(s)
    np.testing.assert_allclose(v2.tensors[0], 1.5, rtol=1e-6)


@pytest.mark.parametrize(
    ("update", "reason", "field"),
    [
        (up("x", 0.1, base=5), "stale", "base_version"),
        (up("x", 0.1, samples=0), "samples", "samples"),
        (up("x", 1e6), "norm", "weights"),
        (Update("x", "t", 1, 0, [np.zeros((2, 5), np.float32), *up("x", 0.1).tensors[1:]]),
         "shape", "weights[0]"),
        (Update("x", "t", 1, 0, [np.full(SHAPES[0], np.nan, np.float32), *up("x", 0.1).tensors[1:]]),
         "non_finite", "weights[0]"),
    ],
)  # fmt: skip
def test_bad_updates_are_refused_with_reason_and_field(
    update: Update, reason: str, field: str
) -> None:
    """Each malformed update is refused by check() and accept() with its reason and field."""
    s = make_strategy(StrategyConfig(max_norm=10.0), v0())
    for call in (s.check, s.accept):
        with pytest.raises(UpdateRejected) as caught:
            call(update)
        assert (caught.value.reason, caught.value.field) == (reason, field)
    assert s.pending == 0


def test_a_resent_id_in_the_round_is_a_duplicate() -> None:
    """The same update id twice in one round: the second is refused as duplicate."""
    s = make_strategy(StrategyConfig(), v0())
    s.accept(up("a", 0.1))
    with pytest.raises(UpdateRejected, match="duplicate"):
        s.accept(up("a", 0.1))


def test_versions_beyond_the_staleness_window_are_refused() -> None:
    """With max_staleness=1 an update two versions behind is stale (its base is not kept)."""
    s = make_strategy(StrategyConfig(min_updates=1, max_staleness=1), v0())
    for i in range(2):
        s.accept(up(f"u{i}", 0.1, base=i))
        advance(s)
    with pytest.raises(UpdateRejected, match="stale"):
        s.accept(up("old", 0.1, base=0))
    s.accept(up("ok", 0.1, base=1))


def test_median_round_resists_an_outlier_and_asks_for_every_device() -> None:
    """Sync median: PER_DEVICE granularity, and one huge update does not move the median."""
    cfg = StrategyConfig(rule=Rule.MEDIAN, min_updates=3, max_norm=None)
    s = make_strategy(cfg, v0())
    assert isinstance(s, SyncRobust)
    assert s.granularity is Granularity.PER_DEVICE
    assert s.current.granularity is Granularity.PER_DEVICE
    for uid, value in (("a", 0.1), ("b", 0.2), ("c", 1e6)):
        s.accept(up(uid, value))
    np.testing.assert_allclose(advance(s).tensors[0], 0.2, rtol=1e-6)


def test_clipping_bounds_each_step_before_the_rule() -> None:
    """clip_norm scales a long step down to the bound before it is averaged."""
    s = make_strategy(StrategyConfig(min_updates=1, clip_norm=1.0, max_norm=None), v0())
    s.accept(up("a", 100.0))
    flat = np.concatenate([t.ravel() for t in advance(s).tensors])
    assert np.linalg.norm(flat) == pytest.approx(1.0, rel=1e-5)


def test_fedbuff_weights_by_staleness_and_moves_after_buffer_size() -> None:
    """FedBuff: the model moves after buffer_size updates; a stale step counts (1+s)^-0.5."""
    cfg = StrategyConfig(policy=Policy.ASYNC, buffer_size=2)
    s = make_strategy(cfg, v0())
    assert isinstance(s, FedBuff)
    assert s.name == "fedbuff"
    s.accept(up("a", 1.0))
    assert not s.due(0.0)
    s.accept(up("b", 1.0))
    v1 = advance(s)
    np.testing.assert_allclose(v1.tensors[0], 1.0, rtol=1e-6)
    s.accept(up("c", 2.0, base=1))  # fresh: step +1
    s.accept(up("d", 1.0, base=0))  # one version stale: step +1 weighted 1/sqrt(2)
    v2 = advance(s)
    np.testing.assert_allclose(v2.tensors[0], 1.0 + (1 + 2**-0.5) / 2, rtol=1e-6)


def test_a_small_round_closes_after_the_timeout() -> None:
    """Fewer than min_updates: due once the oldest update waited round_timeout."""
    s = make_strategy(StrategyConfig(min_updates=5, round_timeout=10.0), v0())
    assert not s.due(1e9)
    s.accept(up("a", 0.1, at=100.0))
    assert not s.due(109.0)
    assert s.due(110.0)


def test_rollback_keeps_the_round() -> None:
    """adopt(keep_round=True) keeps the pending steps; they apply to the adopted tensors."""
    s = make_strategy(StrategyConfig(min_updates=2), v0())
    s.accept(up("a", 0.5))
    ones = ModelVersion(SPEC, 1, tuple(np.ones(x, np.float32) for x in SHAPES))
    s.adopt(ones, keep_round=True)
    s.accept(up("b", 1.5, base=1))
    np.testing.assert_allclose(advance(s).tensors[0], 1.5, rtol=1e-6)


def test_bad_configs_are_refused() -> None:
    """Unknown staleness kinds and non-positive sizes are ValueErrors."""
    with pytest.raises(ValueError, match="staleness"):
        StrategyConfig(staleness="exponential")
    with pytest.raises(ValueError, match="min_updates"):
        StrategyConfig(min_updates=0)
