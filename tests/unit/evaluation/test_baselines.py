"""The River baselines: warm-up scaling, prequential per-device runs, budget thresholds."""

import numpy as np
import pytest

from flead.evaluation.baselines import RiverJob, scaled
from flead.evaluation.scaling import causal_minmax, prefix_minmax, prefix_standard

pytestmark = pytest.mark.unit


def test_running_minmax_uses_only_the_past_and_fills_gaps_forward() -> None:
    """Row i is scaled by the min/max of rows 0..i; a missing value repeats the last scaled one."""
    x = np.array([[1.0], [3.0], [np.nan], [2.0], [5.0]])
    s = causal_minmax(x)[:, 0]
    assert s.tolist() == [0.5, 1.0, 1.0, pytest.approx(0.5), 1.0]


def test_warm_up_scaling_is_fixed_by_the_first_rows() -> None:
    """Known ranges (HST) and mean/sd (LODA) from the warm-up only; a 122 °C reading later
    does not squash the healthy rows; gaps repeat the last value plus a missing indicator."""
    x = np.array([[0.0], [10.0], [20.0], [np.nan], [122.0]])
    assert prefix_minmax(x, 2)[:, 0].tolist() == [0.0, 1.0, 2.0, 2.0, 12.2]
    z = prefix_standard(x, 2)[:, 0]
    assert z[:2].tolist() == [-1.0, 1.0]
    assert z[3] == z[2]
    hst = scaled("river_hst", x, 2)
    assert hst.shape == (5, 2)
    assert hst[:, 1].tolist() == [0, 0, 0, 1, 0]


@pytest.mark.parametrize("kind", ["river_hst", "river_loda"])
def test_a_gross_outlier_is_flagged_per_device(kind: str) -> None:
    """Two devices of noise and one huge outlier: it outscores 95% of its device's earlier rows
    and, the budget being tiny, few other rows alarm."""
    rng = np.random.default_rng(0)
    n = 1200
    device = np.array(["1", "2"] * n, dtype=object)
    time = np.repeat(np.arange(n) * 30.0, 2)
    values = rng.normal(0.0, 1.0, (2 * n, 2)).astype(np.float32)
    values[2 * 1000] = [40.0, -40.0]  # device "1", its 1000th row
    seen: list[int] = []
    job = RiverJob([kind], device, time, values, 0, 0.5, 0.1, 1, {kind: seen.append})
    res = job.result(kind)
    job.close()
    assert sorted(seen) == [n, n]
    mine = np.flatnonzero(device == "1")
    assert res.score[mine][1000] > np.quantile(res.score[mine][250:1000], 0.95)
    assert np.isinf(res.threshold[mine][:120]).all()
    assert res.anomaly.mean() < 0.05
    assert res.score.shape == res.threshold.shape == res.anomaly.shape == (2 * n,)
