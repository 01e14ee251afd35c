"""`flead status` pure parts: summing an exposition, rates from two scrapes, file_sd targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flead.cli.status import parse_totals, scrape_targets, summarize

pytestmark = pytest.mark.unit


def test_parse_totals_sums_labelled_samples() -> None:
    """Samples of one metric are summed over their labels."""
    text = 'flead_consumer_lag_messages{partition="0"} 3\nflead_consumer_lag_messages{partition="1"} 4\n'
    assert parse_totals(text)["flead_consumer_lag_messages"] == 7.0


def test_summarize_rates_and_totals() -> None:
    """Counters become per-second rates between scrapes; gauges and totals keep the last value."""
    first = {"flead_readings_consumed_total": 100.0, "flead_anomalies_total": 1.0}
    second = {"flead_readings_consumed_total": 300.0, "flead_anomalies_total": 5.0}
    out = summarize(first, second, 2.0)
    assert out["consumed_per_second"] == 100.0
    assert out["anomalies"] == 5.0


def test_scrape_targets_reads_file_sd(tmp_path: Path) -> None:
    """Only flead-* target files are read, one URL per target."""
    (tmp_path / "flead-trainer-9101.json").write_text(json.dumps([{"targets": ["127.0.0.1:9101"]}]))
    (tmp_path / "other.json").write_text(json.dumps([{"targets": ["127.0.0.1:1"]}]))
    assert scrape_targets(str(tmp_path)) == ["http://127.0.0.1:9101/metrics"]
    assert scrape_targets(None) == []
