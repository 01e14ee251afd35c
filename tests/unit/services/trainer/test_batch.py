"""Pure micro-batch logic of the trainer: decoding, dead letters, replay-safe result keys."""

from __future__ import annotations

import bson
import numpy as np
import pytest

from flead.wire import encode_reading
from flead_trainer.batch import (
    anomaly_docs,
    batch_results,
    first_offsets,
    merge_results,
    next_offsets,
    read_results,
    result_document,
)
from flead_trainer.decode import Raw, decode_batch
from flead_trainer.publish import dead_headers

pytestmark = pytest.mark.unit

FEATURES = ("temperature", "humidity")


def good(offset: int, device: str = "1", partition: int = 0) -> Raw:
    """A valid record."""
    value = encode_reading(device, 100.0 + offset, {"temperature": 20.0, "humidity": 40.0})
    return Raw(partition, offset, device.encode(), value)


def test_malformed_records_are_dead_with_reasons() -> None:
    """Bad JSON, a missing field, a wrong type and NaN are dead-lettered; good rows stay in order."""
    records = [
        good(0),
        Raw(0, 1, b"1", b"{not json"),
        Raw(0, 2, b"1", b'{"device": "1", "values": {}}'),
        Raw(0, 3, b"1", b'{"device": "1", "time": "x", "values": {}}'),
        Raw(0, 4, b"1", b'{"device": "1", "time": 1, "values": {"temperature": NaN}}'),
        good(5),
    ]
    d = decode_batch(records, FEATURES)
    assert d.offset.tolist() == [0, 5]
    assert [x.reason for x in d.dead] == [
        "bad_json",
        "missing_field:time",
        "wrong_type:time",
        "non_finite:temperature",
    ]
    headers = dict(dead_headers(d.dead[0], "flead.readings"))
    assert headers["flead-reason"] == b"bad_json"
    assert headers["flead-offset"] == b"1"


def test_offsets_per_partition() -> None:
    """First and next offsets are tracked per partition, dead records included."""
    records = [good(7, partition=1), Raw(1, 8, None, b"x"), good(3, partition=0)]
    assert first_offsets(records) == {1: 7, 0: 3}
    assert next_offsets(records) == {1: 9, 0: 4}


def test_results_are_keyed_by_batch_start_and_round_trip_through_bson() -> None:
    """One document per partition, keyed by topic:partition:first offset; its binary columns
    come back from BSON exactly (NaN and inf kept, device ids and anomaly bits in order)."""
    records = [good(10, "1", 0), good(11, "2", 0), good(12, "1", 0), good(4, "3", 2)]
    d = decode_batch(records, FEATURES)
    score = np.array([1.0, np.nan, 0.5, 2.0], np.float32)
    threshold = np.array([np.inf, 3.0, 3.0, 1.0], np.float32)
    anomaly = np.array([False, True, False, True])
    parts = batch_results(d, first_offsets(records), score, threshold, anomaly, 4)
    docs = [result_document("t", part) for part in parts]
    assert [doc["_id"] for doc in docs] == ["t:0:10", "t:2:4"]
    back = read_results(bson.decode(bson.encode(docs[0])))
    assert back.offsets.tolist() == [10, 11, 12]
    assert back.devices.tolist() == ["1", "2", "1"]
    assert back.times.tolist() == [110.0, 111.0, 112.0]
    np.testing.assert_array_equal(back.scores, [1.0, np.nan, 0.5])
    assert back.thresholds.tolist() == [np.inf, 3.0, 3.0]
    assert back.anomalies.tolist() == [False, True, False]
    assert (back.partition, back.first_offset, back.model_version) == (0, 10, 4)
    assert anomaly_docs(d, score, threshold, anomaly, 4)[1] == {
        "device": "3", "time": 104.0, "score": 2.0, "threshold": 1.0, "model_version": 4
    }  # fmt: skip


def test_merge_results_concatenates_in_order() -> None:
    """Batches since the last checkpoint merge into one interval keyed by the first batch, with
    the last batch's model version; an empty batch of a partition merges too."""
    d1 = decode_batch([good(5, "1"), good(6, "2")], FEATURES)
    d2 = decode_batch([good(7, "1")], FEATURES)
    ones = np.ones(2, np.float32)
    first = batch_results(d1, {0: 5}, ones, ones, np.array([True, False]), 1)[0]
    second = batch_results(d2, {0: 7}, ones[:1], ones[:1], np.array([True]), 2)[0]
    merged = merge_results([first, second])
    assert result_document("t", merged)["_id"] == "t:0:5"
    assert merged.offsets.tolist() == [5, 6, 7]
    assert merged.anomalies.tolist() == [True, False, True]
    assert merged.model_version == 2


def test_a_results_document_of_another_format_is_refused() -> None:
    """A reader meeting a document it cannot decode says which one and why."""
    with pytest.raises(ValueError, match="format 1, expected 2"):
        read_results({"_id": "t:0:0", "format": 1})
