"""Readings and ReadStats: the columnar batch every reader returns."""

import numpy as np
import pytest

from flead.data.records import CHANNELS, Readings, ReadStats

pytestmark = pytest.mark.unit


def _batch(labelled: bool = True) -> Readings:
    return Readings(
        device=np.array(["2", "1", "10"], dtype=object),
        time=np.array([30.0, 10.0, 10.0]),
        values=np.arange(12, dtype=np.float32).reshape(3, 4),
        features=CHANNELS,
        label=np.array([0, 1, 0], dtype=np.int8) if labelled else None,
        fault=np.array(["", "spike", ""], dtype=object) if labelled else None,
    )


def test_channels_are_the_intel_lab_order() -> None:
    """CHANNELS is the contract's tuple, in file order."""
    assert CHANNELS == ("temperature", "humidity", "light", "voltage")


def test_shapes_are_validated() -> None:
    """A values array that does not match features is refused with the expected shape."""
    with pytest.raises(ValueError, match=r"\(1, 4\)"):
        Readings(np.array(["1"], dtype=object), np.zeros(1), np.zeros((1, 3)), CHANNELS)
    with pytest.raises(ValueError, match="label"):
        Readings(
            np.array(["1"], dtype=object), np.zeros(1), np.zeros((1, 4)), CHANNELS, np.zeros(2)
        )


def test_take_and_len() -> None:
    """take() selects rows of every column, by index or mask."""
    batch = _batch()
    picked = batch.take(np.array([2, 0]))
    assert len(picked) == 2
    assert list(picked.device) == ["10", "2"]
    assert picked.label is not None
    assert list(picked.label) == [0, 0]
    assert len(batch.take(batch.time > 15)) == 1


def test_sorted_by_time_breaks_ties_by_device() -> None:
    """Rows come out by time, then device id, keeping labels aligned."""
    ordered = _batch().sorted_by_time()
    assert list(ordered.time) == [10.0, 10.0, 30.0]
    assert list(ordered.device) == ["1", "10", "2"]
    assert ordered.fault is not None
    assert list(ordered.fault) == ["spike", "", ""]


def test_concat_and_empty() -> None:
    """concat joins batches; mixing labelled and unlabelled is refused; empty has zero rows."""
    both = Readings.concat([_batch(), _batch()])
    assert len(both) == 6
    assert both.values.shape == (6, 4)
    with pytest.raises(ValueError, match="labelled"):
        Readings.concat([_batch(), _batch(labelled=False)])
    assert len(Readings.empty()) == 0
    assert Readings.empty(labelled=True).label is not None


def test_devices_sort_numerically() -> None:
    """devices() lists each id once, numeric ids in numeric order."""
    assert _batch().devices() == ["1", "2", "10"]


def test_read_stats_counts_reasons() -> None:
    """reject() accumulates per reason and ignores zero counts."""
    stats = ReadStats(rows_total=5)
    stats.reject("short_row")
    stats.reject("short_row", 2)
    stats.reject("duplicate", 0)
    assert stats.rows_rejected == {"short_row": 3}
    assert stats.rejected_total == 3
