"""Incremental rounds: RoundAccumulator equals FedAvg; RobustRoundBuffer equals the pure rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flead.federation.accumulate import RobustRoundBuffer, RoundAccumulator
from flead.federation.rules import coordinate_median, fedavg, krum, trimmed_mean
from tests.unit.federation.helpers import SHAPES, concat, random_results

pytestmark = pytest.mark.unit


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1), k=st.integers(1, 60), staging=st.sampled_from([1, 512, 1 << 20])
)
def test_accumulator_equals_fedavg(seed: int, k: int, staging: int) -> None:
    """Adding K updates one by one and closing gives fedavg of the same K (any staging size)."""
    results = random_results(np.random.default_rng(seed), k)
    acc = RoundAccumulator(SHAPES, staging_bytes=staging)
    for w, n in results:
        acc.add(w, n)
    assert acc.participants == k
    assert acc.samples == sum(n for _, n in results)
    out = acc.close()
    assert [a.shape for a in out] == SHAPES
    np.testing.assert_allclose(concat(out), concat(fedavg(results)), rtol=1e-5, atol=1e-6)


def test_accumulator_close_twice_and_reset() -> None:
    """close() is repeatable; reset() starts an empty round with the same buffers."""
    results = random_results(np.random.default_rng(1), 5)
    acc = RoundAccumulator(SHAPES)
    for w, n in results:
        acc.add(w, n)
    first = concat(acc.close())
    np.testing.assert_array_equal(first, concat(acc.close()))
    acc.reset()
    assert (acc.participants, acc.samples) == (0, 0)
    with pytest.raises(ValueError, match="no updates"):
        acc.close()
    acc.add(*results[0])
    np.testing.assert_allclose(concat(acc.close()), concat(results[0][0]), rtol=1e-6)


def test_accumulator_rejects_bad_updates() -> None:
    """Wrong array count, wrong shape and samples < 1 raise ValueError and change nothing."""
    acc = RoundAccumulator(SHAPES)
    good = random_results(np.random.default_rng(2), 1)[0][0]
    with pytest.raises(ValueError, match="arrays"):
        acc.add(good[:-1], 3)
    with pytest.raises(ValueError, match="array 1"):
        acc.add([good[0], np.zeros(5, np.float32), *good[2:]], 3)
    with pytest.raises(ValueError, match="samples"):
        acc.add(good, 0)
    assert acc.participants == 0


def test_robust_buffer_matches_the_pure_rules() -> None:
    """Each rule of RobustRoundBuffer.aggregate equals the pure function on the same updates."""
    results = random_results(np.random.default_rng(3), 9)
    buf = RobustRoundBuffer(SHAPES, max_updates=16)
    for w, n in results:
        buf.add(w, n)
    assert buf.samples == sum(n for _, n in results)
    pairs = [
        (buf.aggregate("fedavg"), fedavg(results)),
        (buf.aggregate("median"), coordinate_median(results)),
        (buf.aggregate("trimmed_mean", beta=0.2), trimmed_mean(results, 0.2)),
        (buf.aggregate("krum", num_byzantine=2), krum(results, 2)),
    ]
    for ours, expected in pairs:
        np.testing.assert_allclose(concat(ours), concat(expected), rtol=1e-5, atol=1e-6)


def test_robust_buffer_capacity_and_unknown_rule() -> None:
    """A full round refuses more updates; an unknown rule name is refused; reset empties it."""
    results = random_results(np.random.default_rng(4), 3)
    buf = RobustRoundBuffer(SHAPES, max_updates=2)
    buf.add(*results[0])
    buf.add(*results[1])
    with pytest.raises(ValueError, match="full"):
        buf.add(*results[2])
    with pytest.raises(ValueError, match="unknown rule"):
        buf.aggregate("mode")
    buf.reset()
    assert buf.participants == 0
    with pytest.raises(ValueError, match="no updates"):
        buf.aggregate()


def test_add_many_equals_adding_one_by_one() -> None:
    """Stacked ingest ([K, *shape] per layer) gives the same mean as K single adds."""
    results = random_results(np.random.default_rng(6), 12)
    stacked = [np.stack([w[j] for w, _ in results]) for j in range(len(SHAPES))]
    counts = [n for _, n in results]
    one = RoundAccumulator(SHAPES)
    for w, n in results[:2]:
        one.add(w, n)
    one.add_many([layer[2:] for layer in stacked], counts[2:])
    assert (one.participants, one.samples) == (12, sum(counts))
    np.testing.assert_allclose(concat(one.close()), concat(fedavg(results)), rtol=1e-5, atol=1e-6)


def test_add_many_rejects_mismatched_stacks() -> None:
    """A stack whose leading dimension differs from the sample count, or samples < 1, is refused."""
    acc = RoundAccumulator([(2,)])
    with pytest.raises(ValueError, match="stacked shapes"):
        acc.add_many([np.zeros((3, 2), np.float32)], [1, 1])
    with pytest.raises(ValueError, match="samples"):
        acc.add_many([np.zeros((2, 2), np.float32)], [1, 0])
    assert acc.participants == 0
