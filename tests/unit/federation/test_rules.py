"""Aggregation rules: FedAvg equals Flower's, robust rules resist outliers, clipping bounds norms."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from flwr.server.strategy.aggregate import aggregate, aggregate_median, aggregate_trimmed_avg
from hypothesis import given, settings
from hypothesis import strategies as st

from flead.federation.flat import flatten
from flead.federation.rules import (
    ROBUST_RULES,
    Rule,
    RuleParams,
    fedavg,
    krum_rows,
    median_rows,
    trimmed_mean_rows,
)
from flead.federation.updates import clip_step, norm_of, staleness_weight
from tests.unit.federation.helpers import concat, random_results

pytestmark = pytest.mark.unit

Results = list[tuple[list[np.ndarray], int]]


def _rows(results: Results) -> np.ndarray:
    return np.stack([flatten(w)[0] for w, _ in results])


def _sum(results: Results) -> tuple[np.ndarray, int]:
    total = sum(n * flatten(w)[0].astype(np.float64) for w, n in results)
    return np.asarray(total), sum(n for _, n in results)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 40), scale=st.sampled_from([1e-3, 1, 1e3]))
def test_fedavg_equals_flower_aggregate(seed: int, k: int, scale: float) -> None:
    """FedAvg from the running sum equals flwr's aggregate on the same random updates."""
    results = random_results(np.random.default_rng(seed), k, scale=scale)
    ours = fedavg(*_sum(results))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, concat(aggregate(results)), rtol=1e-5, atol=1e-6 * scale)


def test_fedavg_weights_by_samples_and_needs_samples() -> None:
    """An update with 3x the samples pulls the mean 3x as hard; zero samples is an error."""
    a, b = [np.zeros(2, np.float32)], [np.full(2, 4.0, np.float32)]
    np.testing.assert_allclose(fedavg(*_sum([(a, 1), (b, 3)])), [3.0, 3.0])
    with pytest.raises(ValueError, match="no samples"):
        fedavg(np.zeros(2), 0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 25))
def test_median_and_trimmed_mean_equal_flower(seed: int, k: int) -> None:
    """Median and trimmed mean over rows match Flower's aggregate_median / aggregate_trimmed_avg."""
    results = random_results(np.random.default_rng(seed), k)
    m = _rows(results)
    np.testing.assert_allclose(median_rows(m), concat(aggregate_median(results)), rtol=1e-6)
    np.testing.assert_allclose(
        trimmed_mean_rows(m, RuleParams(beta=0.2)),
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
    results, centre = _honest_and_outliers(seed, k, (k - 1) // 2, magnitude)
    assert np.abs(median_rows(_rows(results)) - centre).max() <= 1.0 + 1e-5


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
    results, centre = _honest_and_outliers(seed, k, int(beta * k), magnitude)
    err = np.abs(trimmed_mean_rows(_rows(results), RuleParams(beta=beta)) - centre)
    assert err.max() <= 1.0 + 1e-4


def test_fedavg_does_not_resist_outliers() -> None:
    """Control: the same single outlier drags FedAvg far away (the robust tests are meaningful)."""
    results, centre = _honest_and_outliers(0, 9, 1, 1e6)
    assert np.abs(fedavg(*_sum(results)) - centre).max() > 1e3


def test_rule_params_refuse_beta_of_half() -> None:
    """beta must be below 0.5: nothing would remain."""
    with pytest.raises(ValueError, match="beta"):
        RuleParams(beta=0.5)


def test_krum_picks_an_honest_update_and_small_rounds_fall_back() -> None:
    """Krum with f declared Byzantine selects an honest row; K < 3 falls back to the median."""
    results, _ = _honest_and_outliers(3, 10, 3, 50.0)
    m = _rows(results)
    chosen = krum_rows(m, RuleParams(byzantine=3))
    assert any(np.array_equal(chosen, row) for row in m[:7])
    np.testing.assert_array_equal(krum_rows(m[:2], RuleParams(byzantine=2)), median_rows(m[:2]))


def test_the_registry_holds_every_robust_rule_once() -> None:
    """Every rule but FedAvg (a running sum) is in ROBUST_RULES, each under its own name."""
    assert set(ROBUST_RULES) == set(Rule) - {Rule.FEDAVG}


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 1e6), max_norm=st.floats(0.1, 100))
def test_clip_bounds_the_norm_and_keeps_direction(seed: int, scale: float, max_norm: float) -> None:
    """After clipping the norm is <= max_norm, and the direction is unchanged."""
    step = (scale * np.random.default_rng(seed).standard_normal(40)).astype(np.float32)
    clipped = clip_step(step, max_norm)
    assert norm_of(clipped) <= max_norm * (1 + 1e-6)
    cosine = step.astype(np.float64) @ clipped / (norm_of(step) * norm_of(clipped))
    assert cosine == pytest.approx(1.0, abs=1e-6)


def test_clip_leaves_small_steps_unchanged_and_rejects_bad_input() -> None:
    """A step within the bound comes back unchanged; NaN steps and bounds <= 0 raise."""
    step = np.array([0.3, -0.4], np.float32)
    np.testing.assert_array_equal(clip_step(step, 1.0), step)
    with pytest.raises(ValueError, match="non-finite"):
        clip_step(np.array([np.nan], np.float32), 1.0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_step(step, 0.0)


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
