"""The Intel Lab reader survives every quirk of the real file; each quirk is a crafted line."""

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from flead.data.intel_lab import ParsedRow, Rejected, parse_line, parse_timestamp, read_intel_lab

pytestmark = pytest.mark.unit

GOOD = "2004-02-28 00:59:16.02785 3 1 19.9884 37.0933 45.08 2.69964"


def _write(tmp_path: Path, *lines: str, name: str = "data.txt") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_good_line() -> None:
    """The documented example parses into mote, time, epoch and four values."""
    row = parse_line(GOOD)
    assert isinstance(row, ParsedRow)
    assert row.mote == 1
    assert row.epoch == 3
    assert row.values == (19.9884, 37.0933, 45.08, 2.69964)
    assert row.time == pytest.approx(1077929956.02785)


def test_empty_field_is_missing_not_shifted() -> None:
    """Two single spaces around an empty light field: light is NaN, voltage stays voltage."""
    row = parse_line("2004-02-28 00:59:16.02785 3 1 19.9884 37.0933  2.69964")
    assert isinstance(row, ParsedRow)
    assert row.values[0] == 19.9884
    assert row.values[1] == 37.0933
    assert math.isnan(row.values[2])
    assert row.values[3] == 2.69964


def test_short_row_ending_after_epoch() -> None:
    """A row with only date, time and epoch is rejected as short_row, as is a truncated row."""
    assert parse_line("2004-03-01 11:17:43.555882 17") == Rejected("short_row")
    assert parse_line("2004-03-01 11:17:43.555882 17 ") == Rejected("short_row")
    assert parse_line("2004-03-01 11:17:43.555882 17 5 19.1 37.0") == Rejected("short_row")


def test_mote_ids_outside_1_to_54() -> None:
    """Motes 55, 56, 58 (and 0) are rejected; a non-integer id has its own reason."""
    for mote in ("55", "56", "58", "0"):
        assert parse_line(GOOD.replace(" 3 1 ", f" 3 {mote} ")) == Rejected("mote_out_of_range")
    assert parse_line(GOOD.replace(" 3 1 ", " 3 x ")) == Rejected("bad_mote_id")


def test_fractional_seconds_of_any_length_or_none() -> None:
    """Seconds with 0..6 fractional digits all parse to the same second."""
    for clock, expected in (
        ("00:59:16", 16.0),
        ("00:59:16.5", 16.5),
        ("00:59:16.027850", 16.02785),
    ):
        assert parse_timestamp("2004-02-28", clock) == pytest.approx(1077929940.0 + expected)


def test_bad_timestamps_are_rejected() -> None:
    """Dates and clocks that are not a real instant are rejected as bad_timestamp."""
    for day, clock in (("2004-02-30", "00:00:00"), ("2004-02-28", "24:00:00"), ("x", "00:00:00"),
                       ("2004-02-28", "00:61:00"), ("2004-02-28", "00:00:-1"), ("2004-02-28", "0:0:0")):  # fmt: skip
        assert parse_line(f"{day} {clock} 3 1 19.9 37.0 45.0 2.6") == Rejected("bad_timestamp")


def test_unparseable_and_non_finite_numbers() -> None:
    """Garbage, 'nan' and 'inf' in a value field are bad_number; so is a bad epoch."""
    assert parse_line(GOOD.replace("45.08", "4x5")) == Rejected("bad_number")
    assert parse_line(GOOD.replace("45.08", "nan")) == Rejected("bad_number")
    assert parse_line(GOOD.replace("2.69964", "inf")) == Rejected("bad_number")
    assert parse_line(GOOD.replace(" 3 1 ", " e 1 ")) == Rejected("bad_number")


def test_other_rejects() -> None:
    """Extra fields, all values empty and blank lines have their own reasons."""
    assert parse_line(GOOD + " 1.0") == Rejected("too_many_fields")
    assert parse_line("2004-02-28 00:59:16 3 1    ") == Rejected("no_values")
    assert parse_line("\n") == Rejected("empty_line")


def test_reader_sorts_unsorted_lines_and_counts_rejects(tmp_path: Path) -> None:
    """A file starting on 03-31 comes out time-sorted; every line is valid or counted."""
    path = _write(
        tmp_path,
        "2004-03-31 03:38:15.757551 65528 1 17.3328 41.0 0.46 2.31",
        GOOD,
        "2004-03-01 11:17:43.555882 17",
        GOOD.replace(" 3 1 ", " 3 58 "),
    )
    readings, stats = read_intel_lab(path)
    assert stats.rows_total == 4
    assert stats.rows_valid == 2
    assert stats.rows_rejected == {"short_row": 1, "mote_out_of_range": 1}
    assert list(readings.time) == sorted(readings.time)
    assert readings.time[0] == pytest.approx(1077929956.02785)


def test_epoch_resets_key_on_mote_and_timestamp(tmp_path: Path) -> None:
    """The same epoch twice (a reset) is fine; the same (mote, timestamp) twice is a duplicate."""
    path = _write(
        tmp_path,
        "2004-02-28 01:00:00.1 7 1 19.9 37.0 45.0 2.6",
        "2004-02-28 02:00:00.1 7 1 19.9 37.0 45.0 2.6",
        "2004-02-28 02:00:00.1 0 1 19.9 37.0 45.0 2.6",
        "2004-02-28 02:00:00.1 0 2 19.9 37.0 45.0 2.6",
    )
    readings, stats = read_intel_lab(path)
    assert stats.rows_valid == 3
    assert stats.rows_rejected == {"duplicate": 1}
    assert sorted(readings.device) == ["1", "1", "2"]


def test_stuck_failure_values_are_valid_and_labelled(tmp_path: Path) -> None:
    """122.153 / -3.91901 are kept as readings with label 1 and fault natural_stuck."""
    path = _write(
        tmp_path,
        "2004-03-20 01:00:00 7 5 122.153 -3.91901 0.92 2.26",
        "2004-03-20 01:00:31 8 5 122.153 41.2 0.92 2.30",
        "2004-03-20 01:01:02 9 5 19.5 41.2 0.92 2.40",
    )
    readings, stats = read_intel_lab(path)
    assert stats.rows_valid == 3
    assert readings.label is not None
    assert list(readings.label) == [1, 1, 0]
    assert readings.fault is not None
    assert list(readings.fault) == ["natural_stuck"] * 2 + [""]
    assert readings.values[0, 0] == np.float32(122.153)


def test_gzip_reads_like_plain(tmp_path: Path) -> None:
    """data.txt.gz gives the same readings as data.txt, and progress reaches 1."""
    plain = _write(tmp_path, GOOD, "2004-02-28 00:59:47 4 1 19.9 37.1  2.69964")
    packed = tmp_path / "data.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    seen: list[float] = []
    a, _ = read_intel_lab(plain)
    b, stats = read_intel_lab(packed, progress=seen.append)
    assert stats.rows_valid == 2
    assert seen[-1] == 1.0
    np.testing.assert_array_equal(a.values, b.values)


def test_labels_file_is_joined_and_must_cover_every_row(tmp_path: Path) -> None:
    """Labels come from labels.csv keyed by (mote, timestamp); a row without one is an error."""
    data = _write(tmp_path, GOOD, "2004-02-28 00:59:47 4 1 19.9 37.1 45.08 2.69964")
    labels = tmp_path / "labels.csv"
    labels.write_text("moteid,date,time,label,fault\n1,2004-02-28,00:59:16.02785,1,spike\n")
    with pytest.raises(ValueError, match="no label for 1 rows"):
        read_intel_lab(data, labels)
    labels.write_text(labels.read_text() + "1,2004-02-28,00:59:47,0,\n")
    readings, _ = read_intel_lab(data, labels)
    assert readings.fault is not None
    assert list(readings.fault) == ["spike", ""]
    labels.write_text("mote,date\n")
    with pytest.raises(ValueError, match="header"):
        read_intel_lab(data, labels)


def test_undecodable_bytes_are_rejected_not_fatal(tmp_path: Path) -> None:
    """A line with invalid UTF-8 is rejected with a reason; the rest is read."""
    path = tmp_path / "data.txt"
    path.write_bytes(GOOD.encode() + b"\n2004-02-28 00:59:47 4 1 1\xff9.9 37.1 45.08 2.6\n")
    _, stats = read_intel_lab(path)
    assert stats.rows_valid == 1
    assert stats.rows_rejected == {"bad_number": 1}
