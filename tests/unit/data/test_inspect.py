"""The inspect summary uses the contract's key names."""

import numpy as np
import pytest

from flead.data.inspect import iso_time, summarize
from flead.data.records import CHANNELS, Readings, ReadStats

pytestmark = pytest.mark.unit


def test_summary_keys_and_values() -> None:
    """rows_*, devices, time_range {start, end}, missing {channel: count}, faults when labelled."""
    values = np.ones((3, 4), dtype=np.float32)
    values[1, 2] = np.nan
    readings = Readings(
        np.array(["1", "2", "1"], dtype=object), np.array([0.0, 31.0, 62.5]), values, CHANNELS,
        np.array([0, 1, 0], dtype=np.int8), np.array(["", "spike", ""], dtype=object),
    )  # fmt: skip
    summary = summarize(readings, ReadStats(4, 3, {"short_row": 1}))
    assert summary["rows_total"] == 4
    assert summary["rows_valid"] == 3
    assert summary["rows_rejected"] == {"short_row": 1}
    assert summary["devices"] == 2
    assert summary["time_range"] == {"start": "1970-01-01T00:00:00+00:00",
                                     "end": "1970-01-01T00:01:02.500000+00:00"}  # fmt: skip
    assert summary["missing"] == {"temperature": 0, "humidity": 0, "light": 1, "voltage": 0}
    assert summary["faults"] == {"spike": 1}


def test_empty_summary() -> None:
    """A file with no valid rows still has every key; the time range is null."""
    summary = summarize(Readings.empty(), ReadStats(2, 0, {"short_row": 2}))
    assert summary["time_range"] == {"start": None, "end": None}
    assert summary["missing"] == dict.fromkeys(CHANNELS, 0)
    assert iso_time(1077929956.0) == "2004-02-28T00:59:16+00:00"
