"""The producer's three sources read through the shared readers, sorted by time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flead.data.synth import generate
from flead_producer.settings import load_settings
from flead_producer.sources import load_readings

pytestmark = pytest.mark.unit


def test_synthetic_source() -> None:
    """The synthetic source yields labelled readings of the requested motes, time-sorted."""
    r = load_readings(load_settings(producer_synth_devices=3, producer_synth_days=0.05))
    assert set(r.device) <= {"1", "2", "3"}
    assert r.label is not None
    assert np.all(np.diff(r.time) >= 0)


def test_intel_lab_file_source(tmp_path: Path) -> None:
    """An Intel Lab data.txt (with its labels file) is read like the real one."""
    data, labels = generate(seed=1, devices=2, days=0.05).write(tmp_path)
    s = load_settings(
        producer_source="intel_lab", producer_path=str(data), producer_labels_path=str(labels)
    )
    r = load_readings(s)
    assert len(r) > 0
    assert r.label is not None


def test_csv_source_and_missing_path(tmp_path: Path) -> None:
    """A user CSV is read with its device column; a file source without a path is a clear error."""
    path = tmp_path / "plant.csv"
    path.write_text("sensor,ts,pressure\na,1,1.5\nb,2,2.5\na,3,1.7\n")
    s = load_settings(
        producer_source="csv",
        producer_path=str(path),
        producer_csv_device_column="sensor",
        producer_csv_time_column="ts",
    )
    r = load_readings(s)
    assert list(r.device) == ["a", "b", "a"]
    assert r.features == ("pressure",)
    with pytest.raises(ValueError, match="FLEAD_PRODUCER_PATH"):
        load_readings(load_settings(producer_source="csv"))
