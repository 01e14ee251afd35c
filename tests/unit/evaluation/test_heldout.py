"""The held-out check: data the generator never made, every detector at the same budget."""

import json
from pathlib import Path

import numpy as np
import pytest

from flead.evaluation.heldout import anomaly_sine, blobs, main, other_faults

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("make", [anomaly_sine, blobs, other_faults])
def test_datasets_are_labelled_multi_device_streams(make: object) -> None:
    """Several devices, time-sorted, a few percent labelled anomalies."""
    r = make(3, 1500, 1)  # type: ignore[operator]
    assert r.devices() == ["1", "2", "3"]
    assert np.all(np.diff(r.time) >= 0)
    assert 0.002 < r.label.mean() < 0.3


def test_main_prints_every_detector_per_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tiny run: one table per data set with FLEAD (local, personalized) and the baselines."""
    out = tmp_path / "h.json"
    assert main(["--devices", "2", "--rows", "600", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for name in ("anomaly_sine", "blobs", "| local |", "| personalized |", "| river_hst |",
                 "| river_loda |", "| rules_zscore |"):  # fmt: skip
        assert name in text
    doc = json.loads(out.read_text())
    assert set(doc["datasets"]) == {"anomaly_sine", "blobs", "other_faults"}
    with pytest.raises(SystemExit):
        main(["--devices", "1"])
