"""Pure micro-batch logic of the trainer: decoding, dead letters, replay-safe result keys."""

from __future__ import annotations

import numpy as np
import pytest

from flead.wire import encode_reading
from flead_trainer.batch import (
    anomaly_docs,
    first_offsets,
    merge_results,
    next_offsets,
    result_docs,
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


def test_result_docs_are_keyed_by_batch_start() -> None:
    """One document per partition, keyed by topic:partition:first offset, no NaN/inf stored."""
    records = [good(10, "1", 0), good(11, "2", 0), good(4, "3", 2)]
    d = decode_batch(records, FEATURES)
    score = np.array([1.0, np.nan, 2.0], np.float32)
    threshold = np.array([np.inf, 3.0, 1.0], np.float32)
    anomaly = np.array([False, False, True])
    docs = result_docs("t", d, first_offsets(records), score, threshold, anomaly, 4)
    assert [doc["_id"] for doc in docs] == ["t:0:10", "t:2:4"]
    assert docs[0]["scores"] == [1.0, None]
    assert docs[0]["thresholds"] == [None, 3.0]
    assert anomaly_docs(d, score, threshold, anomaly, 4) == [
        {"device": "3", "time": 104.0, "score": 2.0, "threshold": 1.0, "model_version": 4}
    ]


def test_merge_results_concatenates_in_order() -> None:
    """Batches since the last checkpoint merge into one document keyed by the first batch."""
    first = {"_id": "t:0:5", "partition": 0, "first_offset": 5, "model_version": 1}
    second = {"_id": "t:0:7", "partition": 0, "first_offset": 7, "model_version": 2}
    for doc, offsets in ((first, [5, 6]), (second, [7])):
        doc |= {"offsets": offsets, "devices": ["1"] * len(offsets), "times": [0.0] * len(offsets)}
        doc |= {"scores": [0.1] * len(offsets), "thresholds": [1.0] * len(offsets)}
        doc |= {"anomalies": [False] * len(offsets)}
    merged = merge_results([first, second])
    assert merged["_id"] == "t:0:5"
    assert merged["offsets"] == [5, 6, 7]
    assert merged["model_version"] == 2
