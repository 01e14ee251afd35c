"""Aggregation rules: FedAvg equals Flower's, robust rules resist outliers, clipping bounds norms."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from flwr.server.strategy.aggregate import aggregate, aggregate_median, aggregate_trimmed_avg
from hypothesis import given, settings
from hypothesis import strategies as st

from flead.federation.rules import (
    clip_by_norm,
    coordinate_median,
    fedavg,
    fedavg_stacked,
    fedprox_gradient_term,
    fedprox_penalty,
    global_norm,
    krum,
    staleness_weight,
    trimmed_mean,
)
from tests.unit.federation.helpers import SHAPES, concat, random_results

pytestmark = pytest.mark.unit


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 40), scale=st.sampled_from([1e-3, 1, 1e3]))
def test_fedavg_equals_flower_aggregate(seed: int, k: int, scale: float) -> None:
    """On any random inputs our FedAvg matches flwr.server.strategy.aggregate.aggregate."""
    results = random_results(np.random.default_rng(seed), k, scale=scale)
    ours, theirs = fedavg(results), aggregate(results)
    assert [a.shape for a in ours] == [np.shape(a) for a in theirs]
    assert all(a.dtype == np.float32 for a in ours)
    np.testing.assert_allclose(concat(ours), concat(theirs), rtol=1e-5, atol=1e-6 * scale)


def test_fedavg_matches_flower_across_gather_blocks() -> None:
    """Large layers gathered in several cache-sized blocks still give Flower's result."""
    results = random_results(np.random.default_rng(5), 30, shapes=[(300, 256), (256,)])
    np.testing.assert_allclose(
        concat(fedavg(results)), concat(aggregate(results)), rtol=1e-5, atol=1e-6
    )


def test_fedavg_stacked_equals_fedavg() -> None:
    """FedAvg over per-layer stacks [K, *shape] equals FedAvg over the list of updates."""
    results = random_results(np.random.default_rng(8), 17)
    stacked = [np.stack([w[j] for w, _ in results]) for j in range(len(SHAPES))]
    ours = fedavg_stacked(stacked, [n for _, n in results])
    assert [a.shape for a in ours] == SHAPES
    np.testing.assert_allclose(concat(ours), concat(fedavg(results)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="leading dimension"):
        fedavg_stacked([stacked[0][:3]], [1, 2])


def test_fedavg_weights_by_samples() -> None:
    """An update with 3x the samples pulls the mean 3x as hard."""
    a, b = [np.zeros(2, np.float32)], [np.full(2, 4.0, np.float32)]
    np.testing.assert_allclose(fedavg([(a, 1), (b, 3)])[0], [3.0, 3.0])


def test_fedavg_rejects_bad_input() -> None:
    """No updates, zero total samples, or a shape mismatch raise ValueError."""
    with pytest.raises(ValueError, match="no updates"):
        fedavg([])
    with pytest.raises(ValueError, match="sample counts"):
        fedavg([([np.zeros(2, np.float32)], 0)])
    with pytest.raises(ValueError, match="shape"):
        fedavg([([np.zeros(2, np.float32)], 1), ([np.zeros(3, np.float32)], 1)])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 25))
def test_median_and_trimmed_mean_equal_flower(seed: int, k: int) -> None:
    """Median and trimmed mean match Flower's aggregate_median / aggregate_trimmed_avg."""
    results = random_results(np.random.default_rng(seed), k)
    np.testing.assert_allclose(
        concat(coordinate_median(results)), concat(aggregate_median(results)), rtol=1e-6
    )
    np.testing.assert_allclose(
        concat(trimmed_mean(results, 0.2)),
        concat(aggregate_trimmed_avg(results, 0.2)),
        rtol=1e-5,
        atol=1e-6,
    )


def _honest_and_outliers(
    seed: int, k: int, f: int, magnitude: float
) -> tuple[list[tuple[list[np.ndarray], int]], np.ndarray]:
    """k - f honest updates within +-1 of a centre, then f arbitrary outliers."""
    rng = np.random.default_rng(seed)
    centre = rng.standard_normal(20).astype(np.float32)
    honest = [([centre + rng.uniform(-1, 1, 20).astype(np.float32)], 10) for _ in range(k - f)]
    sign = rng.choice([-1.0, 1.0], size=(f, 20))
    bad = [([(magnitude * sign[i]).astype(np.float32)], 10_000) for i in range(f)]
    return honest + bad, centre


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(3, 30),
    magnitude=st.sampled_from([1e3, 1e9, 3e38]),
)
def test_median_resists_fewer_than_half_outliers(seed: int, k: int, magnitude: float) -> None:
    """With f < K/2 outliers of any size the median stays within the honest spread (+-1)."""
    f = (k - 1) // 2
    results, centre = _honest_and_outliers(seed, k, f, magnitude)
    err = np.abs(coordinate_median(results)[0] - centre)
    assert err.max() <= 1.0 + 1e-5


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(4, 30),
    beta=st.sampled_from([0.1, 0.25, 0.4]),
    magnitude=st.sampled_from([1e3, 1e9, 1e30]),
)
def test_trimmed_mean_resists_beta_k_outliers(
    seed: int, k: int, beta: float, magnitude: float
) -> None:
    """With f <= floor(beta*K) outliers of any size the trimmed mean stays within +-1."""
    f = int(beta * k)
    results, centre = _honest_and_outliers(seed, k, f, magnitude)
    err = np.abs(trimmed_mean(results, beta)[0] - centre)
    assert err.max() <= 1.0 + 1e-4


def test_fedavg_does_not_resist_outliers() -> None:
    """Control: the same single outlier drags FedAvg far away (the robust tests are meaningful)."""
    results, centre = _honest_and_outliers(0, 9, 1, 1e6)
    assert np.abs(fedavg(results)[0] - centre).max() > 1e3


def test_trimmed_mean_rejects_beta_of_half() -> None:
    """beta must be below 0.5: nothing would remain."""
    with pytest.raises(ValueError, match="beta"):
        trimmed_mean(random_results(np.random.default_rng(0), 4), 0.5)


def test_krum_picks_an_honest_update() -> None:
    """Krum with f declared Byzantine updates selects one of the honest updates."""
    results, _ = _honest_and_outliers(3, 10, 3, 50.0)
    chosen = krum(results, num_byzantine=3)[0]
    assert any(np.array_equal(chosen, w[0]) for w, _ in results[:7])
    with pytest.raises(ValueError, match="krum"):
        krum(results[:3], num_byzantine=2)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 1e6), max_norm=st.floats(0.1, 100))
def test_clip_bounds_the_norm_and_keeps_direction(seed: int, scale: float, max_norm: float) -> None:
    """After clipping the global norm is <= max_norm, and the direction is unchanged."""
    rng = np.random.default_rng(seed)
    delta = [(scale * rng.standard_normal(s)).astype(np.float32) for s in SHAPES]
    clipped = clip_by_norm(delta, max_norm)
    assert global_norm(clipped) <= max_norm * (1 + 1e-6)
    before, after = concat(delta), concat(clipped)
    cosine = before @ after / (np.linalg.norm(before) * np.linalg.norm(after))
    assert cosine == pytest.approx(1.0, abs=1e-6)


def test_clip_leaves_small_updates_unchanged() -> None:
    """An update already within the bound comes back bit-for-bit identical (as a copy)."""
    delta = [np.array([0.3, -0.4], np.float32), np.array([[0.1]], np.float32)]
    clipped = clip_by_norm(delta, 1.0)
    for a, b in zip(delta, clipped, strict=True):
        np.testing.assert_array_equal(a, b)
        assert a is not b


def test_clip_rejects_non_finite_and_bad_bound() -> None:
    """NaN updates and non-positive bounds raise ValueError."""
    with pytest.raises(ValueError, match="non-finite"):
        clip_by_norm([np.array([np.nan], np.float32)], 1.0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_norm([np.ones(2, np.float32)], 0.0)


def test_fedprox_term_is_the_gradient_of_the_penalty() -> None:
    """mu * (w - w_global) matches a finite-difference gradient of (mu/2) ||w - w_global||^2."""
    rng = np.random.default_rng(7)
    w = [rng.standard_normal(s) for s in [(3, 2), (2,)]]
    g = [rng.standard_normal(s) for s in [(3, 2), (2,)]]
    mu, eps = 0.3, 1e-6
    term = fedprox_gradient_term(w, g, mu)
    for j, a in enumerate(w):
        for idx in np.ndindex(a.shape):
            plus = [x.copy() for x in w]
            minus = [x.copy() for x in w]
            plus[j][idx] += eps
            minus[j][idx] -= eps
            numeric = (fedprox_penalty(plus, g, mu) - fedprox_penalty(minus, g, mu)) / (2 * eps)
            assert term[j][idx] == pytest.approx(numeric, rel=1e-4, abs=1e-6)
    assert all(not t.any() for t in fedprox_gradient_term(w, g, 0.0))


def test_staleness_weight_kinds() -> None:
    """Polynomial is (1+s)^-a and decreasing; constant is 1; hinge is flat up to b."""
    assert staleness_weight(0) == 1.0
    assert staleness_weight(3, "polynomial", 0.5) == pytest.approx(0.5)
    weights = [staleness_weight(s) for s in range(10)]
    assert all(x > y for x, y in pairwise(weights))
    assert staleness_weight(9, "constant") == 1.0
    assert staleness_weight(4, "hinge", a=1.0, b=4) == 1.0
    assert staleness_weight(6, "hinge", a=1.0, b=4) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="staleness"):
        staleness_weight(-1)
    with pytest.raises(ValueError, match="unknown"):
        staleness_weight(1, "exponential")
