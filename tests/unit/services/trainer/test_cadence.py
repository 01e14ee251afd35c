"""Trainer helpers: consumer lag from librdkafka statistics, partition list parsing.

The update cadence moved to `flead.federation.Cadence` (tests/unit/federation/test_participant.py)."""

from __future__ import annotations

import pytest

from flead_trainer.kafka_io import lags_from_stats
from flead_trainer.settings import load_settings

pytestmark = pytest.mark.unit


def test_lag_from_librdkafka_stats() -> None:
    """consumer_lag per partition is read from statistics; partition -1 and unknown lags skipped."""
    raw = '{"topics": {"t": {"partitions": {"0": {"consumer_lag": 5}, "1": {"consumer_lag": -1}, "-1": {"consumer_lag": 9}}}}}'
    assert lags_from_stats(raw, "t") == {0: 5}


def test_partition_list_parsing() -> None:
    """FLEAD_PARTITIONS is a comma list; a bad entry is a clear error."""
    assert load_settings(partitions="3, 1,3").partition_list == [1, 3]
    with pytest.raises(ValueError, match="'x'"):
        _ = load_settings(partitions="1,x").partition_list
