"""Label-free thresholds: decayed log-score histograms and their quantiles."""

from __future__ import annotations

import numpy as np
import pytest

from flead.model import threshold as th

pytestmark = pytest.mark.unit


def test_quantile_tracks_the_score_distribution() -> None:
    """The histogram quantile lands within one bin of the empirical quantile."""
    rng = np.random.default_rng(0)
    scores = rng.chisquare(1, 20000)
    hist = th.add_scores(np.zeros((1, th.BINS)), np.zeros(20000, int), scores, np.zeros(1), 1.0)
    for q in (0.5, 0.9, 0.99):
        got = th.quantile(hist, q)[0]
        want = np.quantile(scores, q)
        width = np.exp((th.LOG_HI - th.LOG_LO) / th.BINS)
        assert want <= got <= want * width * 1.001


def test_old_scores_fade() -> None:
    """With decay, the quantile follows a shift in the score level."""
    hist = np.zeros((1, th.BINS))
    low, high = np.full(5000, 1.0), np.full(5000, 100.0)
    hist = th.add_scores(hist, np.zeros(5000, int), low, np.array([5000]), 0.999)
    assert th.quantile(hist, 0.5)[0] < 2.0
    hist = th.add_scores(hist, np.zeros(5000, int), high, np.array([5000]), 0.999)
    assert th.quantile(hist, 0.5)[0] > 50.0


def test_empty_histogram_means_no_threshold() -> None:
    """No scores yet: the threshold is +inf (nothing can be flagged)."""
    assert np.isinf(th.quantile(np.zeros((2, th.BINS)), 0.99)).all()


def test_histograms_are_per_device() -> None:
    """Scores of one device never move another device's threshold."""
    hist = th.add_scores(
        np.zeros((2, th.BINS)), np.array([0, 0, 0]), np.array([5.0, 6.0, 7.0]), np.zeros(2), 1.0
    )
    assert hist[1].sum() == 0
    assert hist[0].sum() == 3
