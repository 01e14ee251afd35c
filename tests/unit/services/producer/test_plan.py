"""Pure planning of the producer: partitions, pacing, loop time shifts, encodings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flead.partitioning import partition_for
from flead.wire import decode_reading
from flead_producer.plan import (
    due_times,
    encode_label,
    encode_row,
    loop_shift,
    parse_partition_map,
    partitions_of,
)

pytestmark = pytest.mark.unit


def test_partitions_follow_murmur2_unless_overridden() -> None:
    """Each device goes to Kafka's default partition for its key, or the one its map entry names."""
    parts = partitions_of(["1", "2", "1"], 12, {"2": 5})
    assert parts == {"1": partition_for("1", 12), "2": 5}


def test_partition_map_errors_name_the_entry() -> None:
    """A malformed or out-of-range map entry is reported by name."""
    assert parse_partition_map("7=1, 8=0", 4) == {"7": 1, "8": 0}
    with pytest.raises(ValueError, match="'7:1'"):
        parse_partition_map("7:1", 4)
    with pytest.raises(ValueError, match="only 4"):
        parse_partition_map("7=9", 4)


def test_due_times_rate_speed_and_both() -> None:
    """Rate gives i/rate, speed gives elapsed data time / speed, both give the later of the two."""
    t = np.array([0.0, 10.0, 11.0, 40.0])
    np.testing.assert_allclose(due_times(t, 2.0, 0.0), [0, 0.5, 1.0, 1.5])
    np.testing.assert_allclose(due_times(t, 0.0, 10.0), [0, 1.0, 1.1, 4.0])
    np.testing.assert_allclose(due_times(t, 2.0, 10.0), [0, 1.0, 1.1, 4.0])
    assert not due_times(t, 0.0, 0.0).any()


def test_loop_shift_keeps_times_unique() -> None:
    """Every pass after the first starts after the previous one ended."""
    t = np.array([100.0, 130.0, 160.0])
    assert loop_shift(t, 0) == 0.0
    assert loop_shift(t, 1) > 60.0
    assert loop_shift(t, 2) == 2 * loop_shift(t, 1)


def test_encodings_round_trip() -> None:
    """A reading decodes back (NaN -> missing); a label carries device, time, label, fault."""
    raw = encode_row("3", 5.0, np.array([1.5, np.nan], np.float32), ("a", "b"))
    device, time, values = decode_reading(raw, ("a", "b"))
    assert (device, time, values[0]) == ("3", 5.0, 1.5)
    assert np.isnan(values[1])
    assert json.loads(encode_label("3", 5.0, 1, "spike")) == {
        "device": "3",
        "time": 5.0,
        "label": 1,
        "fault": "spike",
    }
