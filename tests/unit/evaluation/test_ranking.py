"""AUC-PR and AUC-ROC in numpy agree with scikit-learn, including ties and non-finite scores."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from flead.evaluation.ranking import Ranked, auc_pr, auc_roc, finite

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_on_random_scores_with_ties(seed: int) -> None:
    """Random labels and coarsely rounded (heavily tied) scores give scikit-learn's numbers."""
    rng = np.random.default_rng(seed)
    label = rng.random(2000) < 0.05
    score = np.round(rng.random(2000) + label * rng.random(2000), 1)
    assert auc_pr(label, score) == pytest.approx(average_precision_score(label, score))
    assert auc_roc(label, score) == pytest.approx(roc_auc_score(label, score))


def test_perfect_and_inverted_rankings() -> None:
    """A perfect ranking scores 1.0; an inverted one 0.0 ROC and the positive share at most."""
    label = np.array([0, 0, 0, 1, 1])
    assert auc_pr(label, np.arange(5)) == pytest.approx(1.0)
    assert auc_roc(label, np.arange(5)) == pytest.approx(1.0)
    assert auc_roc(label, -np.arange(5)) == pytest.approx(0.0)


def test_undefined_without_both_classes() -> None:
    """No positive: both metrics are None (undefined), never a misleading 0 or 1."""
    assert auc_pr(np.zeros(4), np.arange(4)) is None
    assert auc_roc(np.ones(4), np.arange(4)) is None


def test_infinite_scores_rank_above_and_nan_below() -> None:
    """+inf ranks above every finite score, NaN below; the metrics stay computable."""
    s = finite(np.array([1.0, np.inf, np.nan, 2.0]))
    assert np.all(np.isfinite(s))
    assert s[1] > s[3] > s[0] > s[2]
    assert auc_pr(np.array([0, 1, 0, 0]), np.array([1.0, np.inf, np.nan, 2.0])) == 1.0


def test_one_sort_serves_every_subset() -> None:
    """`Ranked.auc_pr(label, rows)` equals `auc_pr` on the subset, ties and all."""
    rng = np.random.default_rng(3)
    score = rng.integers(0, 20, 500).astype(float)  # many ties
    label = rng.random(500) < 0.1
    rows = rng.random(500) < 0.6
    ranked = Ranked.of(score)
    assert ranked.auc_pr(label, rows) == pytest.approx(auc_pr(label[rows], score[rows]))
    assert ranked.auc_pr(label) == pytest.approx(auc_pr(label, score))
    assert ranked.auc_pr(np.zeros(500, bool)) is None
