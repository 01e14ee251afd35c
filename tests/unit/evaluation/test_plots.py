"""Every plot is written as a PNG, also when a mode has no per-device numbers or no rounds."""

from pathlib import Path

import numpy as np
import pytest

from flead.evaluation.plots import Timeline, plot_all

pytestmark = pytest.mark.unit

PNG = b"\x89PNG\r\n\x1a\n"


def test_all_plots_are_pngs(tmp_path: Path) -> None:
    """Bar, recall per fault, box, cold start, loss per round and timeline are PNGs in order."""
    modes = {
        "local": {
            "auc_pr": 0.7,
            "worst_10pct_device_auc_pr": 0.2,
            "device_auc_pr": {"1": 0.5, "2": 0.9},
            "per_fault_type": {"spike": {"recall": 0.5, "event_recall": 0.8},
                               "drift": {"recall": None, "event_recall": None}},
        },
        "river_hst": {"auc_pr": None, "worst_10pct_device_auc_pr": None, "device_auc_pr": {}},
    }  # fmt: skip
    curve = [{"hours_from": h, "hours_to": h + 3.0, "auc_pr": None if h == 3 else 0.5}
             for h in range(0, 24, 3)]  # fmt: skip
    cold = {"devices": ["2"], "modes": {"local": {"curve": curve}, "federated": {"curve": curve}}}
    rounds = {"federated": [{"index": i, "loss": 1.0 / i} for i in range(1, 5)]}
    n = 200
    label = np.zeros(n, dtype=np.int8)
    label[50:60] = 1
    fault = np.where(label == 1, "drift", "")
    tl = Timeline("local", np.array(["1", "2"] * (n // 2)), np.arange(n) * 31.0, np.abs(np.sin(np.arange(n))),
                  np.full(n, np.inf), np.arange(n) % 17 == 0, label, fault, ["1", "2"])  # fmt: skip
    paths = plot_all(tmp_path, {"modes": modes, "rounds": rounds, "cold_start": cold}, tl)
    assert [p.name for p in paths] == [
        "auc_pr.png",
        "recall_per_fault.png",
        "device_auc_pr.png",
        "cold_start.png",
        "loss_per_round.png",
        "timeline.png",
    ]
    for p in paths:
        assert p.read_bytes()[:8] == PNG
    assert len(plot_all(tmp_path / "bare", {"modes": modes, "rounds": {}}, None)) == 3
