"""Bring-your-own CSV: devices, optional time and labels, numeric features, rejects per reason."""

from pathlib import Path

import numpy as np
import pytest

from flead.data.csv_source import numeric_columns, parse_time, read_csv

pytestmark = pytest.mark.unit


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(text)
    return path


def test_default_features_are_numeric_columns(tmp_path: Path) -> None:
    """Without --features every numeric column except device/time/label is a feature."""
    path = _csv(tmp_path, "sensor,ts,temp,site,hum,y\na,2024-01-01T00:00:10,20.5,north,40,0\n"
                          "b,2024-01-01T00:00:00,21.0,south,41,1\n")  # fmt: skip
    readings, stats = read_csv(path, "sensor", label_column="y", time_column="ts")
    assert readings.features == ("temp", "hum")
    assert stats.rows_valid == 2
    assert list(readings.device) == ["b", "a"]  # sorted by time
    assert readings.time[0] == pytest.approx(1704067200.0)
    assert readings.label is not None
    assert list(readings.label) == [1, 0]
    assert readings.fault is not None
    assert list(readings.fault) == ["anomaly", ""]


def test_numeric_time_and_no_time(tmp_path: Path) -> None:
    """A numeric time column is seconds; without one, time is the row index."""
    path = _csv(tmp_path, "d,t,x\n1,5.5,1\n1,7,2\n")
    readings, _ = read_csv(path, "d", time_column="t")
    assert list(readings.time) == [5.5, 7.0]
    readings, _ = read_csv(path, "d", features=["x"])
    assert list(readings.time) == [0.0, 1.0]
    assert readings.label is None


def test_missing_column_names_it(tmp_path: Path) -> None:
    """A named column that is not in the header is a ValueError naming it and listing the others."""
    path = _csv(tmp_path, "d,x\n1,2\n")
    with pytest.raises(ValueError, match="no column 'device'; columns are d, x"):
        read_csv(path, "device")
    with pytest.raises(ValueError, match="'label'"):
        read_csv(path, "d", label_column="label")
    with pytest.raises(ValueError, match="empty file"):
        read_csv(_csv(tmp_path, ""), "d")


def test_bad_rows_are_counted_per_reason(tmp_path: Path) -> None:
    """Each kind of bad row is rejected with its own reason; empty cells are missing values."""
    path = _csv(tmp_path, "d,t,x,y,l\n"
                          "1,1,1.0,,0\n"      # ok, y missing
                          "1,2,1.0\n"         # bad_field_count
                          ",3,1.0,2.0,0\n"    # missing_device
                          "1,soon,1.0,2.0,0\n"  # bad_time
                          "1,5,1.0,2.0,yes\n"   # bad_label
                          "1,6,abc,2.0,0\n"     # bad_number
                          "1,7,,,0\n"           # no_values
                          "1,1,3.0,4.0,1\n")  # duplicate of (1, 1)  # fmt: skip
    readings, stats = read_csv(path, "d", label_column="l", time_column="t")
    assert stats.rows_total == 8
    assert stats.rows_valid == 1
    assert stats.rows_rejected == {
        "bad_field_count": 1, "missing_device": 1, "bad_time": 1, "bad_label": 1,
        "bad_number": 1, "no_values": 1, "duplicate": 1,
    }  # fmt: skip
    assert np.isnan(readings.values[0, 1])


def test_helpers() -> None:
    """parse_time takes ISO (naive = UTC, offsets honoured) or seconds; numeric_columns tolerates typos."""
    assert parse_time("1970-01-01T00:01:00") == 60.0
    assert parse_time("1970-01-01T01:00:00+01:00") == 0.0
    assert parse_time("12.5") == 12.5
    assert parse_time("later") is None
    assert parse_time("nan") is None
    assert numeric_columns(["a", "b"], [["1", "x"], ["2", "y"], ["oops", "3"]]) == ["a"]
