"""The River HalfSpaceTrees baseline: causal scaling, causal thresholds, per-device prequential run."""

import numpy as np
import pytest

from flead.evaluation.baselines import causal_threshold, river_hst
from flead.evaluation.scaling import causal_minmax, prefix_minmax

pytestmark = pytest.mark.unit


def test_minmax_uses_only_the_past_and_fills_gaps_forward() -> None:
    """Row i is scaled by the min/max of rows 0..i; a missing value repeats the last scaled one."""
    x = np.array([[1.0], [3.0], [np.nan], [2.0], [5.0]])
    s = causal_minmax(x)[:, 0]
    assert s[0] == 0.5  # constant so far
    assert s[1] == 1.0
    assert s[2] == 1.0  # gap: previous value
    assert s[3] == pytest.approx(0.5)
    assert s[4] == 1.0
    changed = x.copy()
    changed[4] = 100.0
    assert np.array_equal(causal_minmax(changed)[:4], s[:4, None])  # the future never leaks


def test_prefix_ranges_are_fixed_by_the_first_rows() -> None:
    """Known ranges from the first rows: later values may leave [0, 1], gaps repeat the last."""
    x = np.array([[0.0], [10.0], [20.0], [np.nan]])
    assert prefix_minmax(x, 2)[:, 0].tolist() == [0.0, 1.0, 2.0, 2.0]


def test_threshold_is_causal_and_infinite_at_first() -> None:
    """The first block has no threshold; later ones use quantiles of earlier scores only."""
    s = np.arange(1000, dtype=float)
    thr = causal_threshold(s, q=0.5, block=250)
    assert np.isinf(thr[:250]).all()
    assert thr[250] == pytest.approx(np.quantile(s[:250], 0.5))
    assert thr[999] == pytest.approx(np.quantile(s[:750], 0.5))


@pytest.mark.parametrize("ranges_from", [None, 0.1])
def test_river_hst_flags_a_gross_outlier_per_device(ranges_from: float | None) -> None:
    """Two devices of noise and one huge spike: it outscores 95% of its device's earlier rows.

    (HST with River's defaults scores plain Gaussian noise close to its maximum too.)
    """
    rng = np.random.default_rng(0)
    n = 1200
    device = np.array(["1", "2"] * n, dtype=object)
    values = rng.normal(0.0, 1.0, (2 * n, 2)).astype(np.float32)
    values[2 * 1000] = [40.0, -40.0]  # device "1", its 1000th row
    seen: list[int] = []
    res = river_hst(device, values, 0, 1, seen.append, ranges_from)
    assert sorted(seen) == [n, n]
    mine = np.flatnonzero(device == "1")
    assert res.score[mine][1000] > np.quantile(res.score[mine][250:1000], 0.95)
    assert res.score.shape == res.threshold.shape == res.anomaly.shape == (2 * n,)
