"""Pure round policy: when a sync round is due, and how a round combines its updates."""

from __future__ import annotations

import numpy as np
import pytest

from flead_aggregator.policy import combine, evaluate, round_due

pytestmark = pytest.mark.unit


def test_round_due_by_count_or_timeout() -> None:
    """A round closes at min_updates, or with any update older than the timeout, never empty."""
    assert round_due(3, 0.0, 1.0, 3, 30.0)
    assert not round_due(2, 0.0, 1.0, 3, 30.0)
    assert round_due(1, 0.0, 30.0, 3, 30.0)
    assert not round_due(0, None, 1e9, 1, 1.0)


def test_combine_fedavg_weights_by_samples() -> None:
    """FedAvg of 1s (1 sample) and 5s (3 samples) is 4."""
    g = [np.zeros(2, np.float32)]
    out = combine([([np.ones(2, np.float32)], 1), ([np.full(2, 5.0, np.float32)], 3)], g)
    np.testing.assert_allclose(out[0], 4.0)


def test_combine_median_ignores_an_outlier() -> None:
    """The coordinate median of 1, 1, 1000 is 1."""
    g = [np.zeros(1, np.float32)]
    ups = [([np.array([v], np.float32)], 1) for v in (1.0, 1.0, 1000.0)]
    np.testing.assert_allclose(combine(ups, g, rule="median")[0], 1.0)


def test_combine_clips_each_step() -> None:
    """With clip_norm 1 a step of norm 10 from the global model shrinks to norm 1."""
    g = [np.zeros(1, np.float32)]
    out = combine([([np.array([10.0], np.float32)], 1)], g, clip_norm=1.0)
    np.testing.assert_allclose(out[0], 1.0, rtol=1e-6)


def test_evaluate_weights_client_loss_by_samples() -> None:
    """The mean client loss is sample-weighted and ignores updates without a loss."""
    ev = evaluate([np.zeros(1)], [np.ones(1)], [(1.0, 1), (3.0, 3), (None, 100)])
    assert ev["mean_client_loss"] == pytest.approx(2.5)
    assert ev["step_norm"] == pytest.approx(1.0)
