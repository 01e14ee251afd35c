"""The rules + rolling z-score baseline: range rules, causal per-device z-scores, budget alarms."""

import numpy as np
import pytest

from flead.evaluation.rules import RULE_SCORE, rolling_z, rules_zscore

pytestmark = pytest.mark.unit

FEATURES = ("temperature", "humidity")


def _stream(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    device = np.array(["1", "2"] * n, dtype=object)
    time = np.repeat(np.arange(n) * 31.0, 2)
    values = np.column_stack([20 + rng.normal(0, 0.1, 2 * n), 40 + rng.normal(0, 0.5, 2 * n)])
    return device, time, values.astype(np.float32)


def test_a_reading_out_of_range_breaks_a_rule_and_always_alarms() -> None:
    """122 °C and -4 % humidity outrank every z-score and raise an alarm even in the warm-up."""
    device, time, values = _stream()
    values[10] = [122.153, 40.0]
    values[900] = [20.0, -4.0]
    res = rules_zscore(device, time, values, FEATURES, 0.5, 0.1)
    assert res.score[10] >= RULE_SCORE
    assert res.score[900] >= RULE_SCORE
    assert res.anomaly[10]
    assert res.anomaly[900]
    assert res.score[np.arange(len(device)) != 10].max() == res.score[900]


def test_a_spike_has_a_large_z_and_the_future_never_leaks() -> None:
    """A +3 °C spike on device 1 stands out of its own last rows; changing later rows (or the
    other device) leaves every earlier score unchanged."""
    device, time, values = _stream()
    values[800, 0] += 3.0  # device "1" (even rows), its 400th row
    res = rules_zscore(device, time, values, FEATURES, 0.5, 0.1)
    mine = device == "1"
    assert res.score[800] > 10 * np.median(res.score[mine])
    assert res.anomaly[800]
    changed = values.copy()
    changed[900:, 0] += 30.0
    again = rules_zscore(device, time, changed, FEATURES, 0.5, 0.1)
    np.testing.assert_allclose(again.score[:900], res.score[:900], rtol=1e-5)  # float rounding only


def test_rolling_z_skips_gaps_and_respects_devices() -> None:
    """A missing value scores 0; the first row of a device has no history (0)."""
    codes = np.array([0, 0, 0, 0, 1, 1, 1])
    x = np.array([[1.0], [2.0], [np.nan], [10.0], [100.0], [101.0], [99.0]])
    z = rolling_z(codes, x, window=3, warm=np.ones(7, bool))[:, 0]
    assert z[0] == 0.0
    assert z[2] == 0.0
    assert z[4] == 0.0
    assert z[3] > 5.0  # 10 against the mean 1.5 of (1, 2)
    assert z[6] == pytest.approx(1.5 / 0.5)  # 99 against the mean 100.5, sd 0.5, of (100, 101)
