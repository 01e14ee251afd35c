"""The baselines' budget threshold: causal, infinite in the warm-up, and on target for iid scores."""

import numpy as np
import pytest

from flead.evaluation.budget import budget_quantile, budget_threshold, per_device

pytestmark = pytest.mark.unit

DAY = 86400.0


def test_quantile_of_the_budget() -> None:
    """0.5 alarms a day at 2,880 rows a day: the 1 - 0.5/2880 quantile."""
    assert budget_quantile(0.5, 2880.0) == pytest.approx(1 - 0.5 / 2880)
    assert budget_quantile(100.0, 10.0) == 0.5  # clipped: never below the median


def test_threshold_is_causal_and_infinite_in_the_warm_up() -> None:
    """No threshold before `warmup` rows; a changed future never changes an earlier threshold."""
    rng = np.random.default_rng(0)
    n = 3000
    s = rng.normal(size=n)
    t = np.arange(n) * 30.0
    thr = budget_threshold(s, t, 2.0, warmup=400)
    assert np.isinf(thr[:400]).all()
    assert np.isfinite(thr[400:]).all()
    changed = s.copy()
    changed[2000:] += 50.0
    assert np.array_equal(budget_threshold(changed, t, 2.0, 400)[:2000], thr[:2000])


def test_iid_scores_alarm_about_budget_rows_a_day() -> None:
    """10 days of N(0,1) scores at 2,880 rows a day, budget 4: ~4 exceeding rows a day after day 1."""
    rng = np.random.default_rng(1)
    n = 28_800
    s = rng.normal(size=n)
    t = np.arange(n) * 30.0
    thr = budget_threshold(s, t, 4.0, warmup=2880)
    per_day = (s[2880:] > thr[2880:]).sum() / 9.0
    assert 2.0 < per_day < 7.0


def test_per_device_thresholds_only_see_their_device() -> None:
    """Device b's huge scores do not move device a's thresholds."""
    device = np.array(["a", "b"] * 1000, dtype=object)
    t = np.repeat(np.arange(1000) * 30.0, 2)
    s = np.where(device == "a", np.tile([0.0, 1.0], 1000), 1e6)
    thr = per_device(device, t, s, 1.0, 0.1)
    assert thr[device == "a"][500] <= 1.0
    assert thr[device == "b"][500] == pytest.approx(1e6)
