"""The synthetic generator matches the Intel Lab targets, is deterministic and round-trips its files."""

from pathlib import Path

import numpy as np
import pytest

from flead.data.intel_lab import STUCK_HUMIDITY, STUCK_TEMPERATURE, read_intel_lab
from flead.data.shape import TARGETS, shape_statistics
from flead.data.synth import FAULT_TYPES, START, SynthData, generate
from flead.data.synth_format import junk_counts

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def full() -> SynthData:
    """54 motes x 3 days, the default run (~415k readings)."""
    return generate(seed=0)


def test_deterministic_by_seed() -> None:
    """The same seed gives identical readings and labels; another seed does not."""
    a, b, c = (
        generate(3, devices=6, days=0.5),
        generate(3, devices=6, days=0.5),
        generate(4, devices=6, days=0.5),
    )
    np.testing.assert_array_equal(a.readings.values, b.readings.values)
    np.testing.assert_array_equal(a.readings.time, b.readings.time)
    assert a.readings.fault is not None
    assert b.readings.fault is not None
    assert list(a.readings.fault) == list(b.readings.fault)
    assert a.readings.values.shape != c.readings.values.shape or not np.array_equal(
        a.readings.values, c.readings.values, equal_nan=True
    )


def test_shape_matches_targets(full: SynthData) -> None:
    """Hourly temperature means, humidity correlation, light and voltage quartiles hit the notes' table."""
    stats = shape_statistics(full.readings)
    for hour in ("05", "07", "10"):
        key = f"temperature_mean_{hour}h"
        assert stats[key] == pytest.approx(TARGETS[key], abs=0.6), key
    assert stats["temperature_mean_07h"] - stats["temperature_mean_06h"] > 4.0  # the 07:00 jump
    assert -0.85 <= stats["humidity_temperature_corr_median"] <= -0.55
    assert stats["light_max"] == pytest.approx(1847.36)
    assert 0.17 <= stats["light_dark_fraction"] <= 0.27
    for q in ("q25", "q50", "q75"):
        assert stats[f"voltage_{q}"] == pytest.approx(TARGETS[f"voltage_{q}"], abs=0.05), q


def test_stuck_values_only_below_the_voltage_threshold(full: SynthData) -> None:
    """Stuck 122.153 / -3.91901 appear, always as natural_stuck, and only below 2.4 V."""
    r = full.readings
    assert r.fault is not None
    stuck_t = np.isclose(r.values[:, 0], STUCK_TEMPERATURE)
    stuck_h = np.isclose(r.values[:, 1], STUCK_HUMIDITY)
    natural = r.fault == "natural_stuck"
    assert natural.sum() > 0
    assert np.array_equal(stuck_t, natural)
    assert not (stuck_h & ~stuck_t).any()
    assert r.values[natural, 3].max() < 2.4
    assert (r.values[~natural, 3] < 2.4).sum() > 0  # low voltage alone is not a failure


def test_faults_are_labelled_events_after_warm_up(full: SynthData) -> None:
    """Every fault type occurs, none in the first 10 % of time; 2-6 % of rows are anomalous."""
    r = full.readings
    assert r.label is not None
    assert r.fault is not None
    assert set(FAULT_TYPES) <= set(r.fault)
    injected = np.isin(r.fault, FAULT_TYPES)
    assert (r.time[injected] >= START + 0.1 * 3 * 86400).all()
    assert np.array_equal(r.label == 1, r.fault != "")
    assert 0.02 <= r.label.mean() <= 0.06
    missing = r.fault == "missing"
    assert np.isnan(r.values[missing]).any(axis=1).all()


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    """write() gives a file the reader turns back into the same rows and labels, quirks counted."""
    data = generate(seed=5, devices=12, days=1.0)
    data_path, labels_path = data.write(tmp_path)
    lines = data_path.read_text().splitlines()
    firsts = [line.split(" ")[0] + " " + line.split(" ")[1] for line in lines[:200]]
    assert firsts != sorted(firsts)  # the file is not sorted
    assert any(line.split(" ")[6] == "" for line in lines if len(line.split(" ")) == 8)
    readings, stats = read_intel_lab(data_path, labels_path)
    expected = data.readings
    assert stats.rows_valid == len(expected)
    assert stats.rows_rejected == junk_counts(len(expected))
    assert list(readings.device) == list(expected.device)
    np.testing.assert_allclose(readings.time, expected.time, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(readings.values, expected.values)
    assert readings.label is not None
    assert expected.label is not None
    np.testing.assert_array_equal(readings.label, expected.label)
    assert readings.fault is not None
    assert expected.fault is not None
    assert list(readings.fault) == list(expected.fault)


def test_bad_arguments() -> None:
    """Device counts outside 1..54 and non-positive spans are refused with the limit named."""
    with pytest.raises(ValueError, match="between 1 and 54"):
        generate(devices=55)
    with pytest.raises(ValueError, match="days"):
        generate(days=0)


def test_without_faults_only_natural_failures_are_labelled() -> None:
    """faults=False leaves natural_stuck as the only labelled anomaly."""
    r = generate(seed=1, devices=8, days=0.5, faults=False).readings
    assert r.fault is not None
    assert set(r.fault) <= {"", "natural_stuck"}
