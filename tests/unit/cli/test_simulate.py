"""`flead simulate` through the real entry point: one-line errors with exit 2, and a tiny full run."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from flead.cli.main import run
from flead.data.synth import generate
from tests.unit.cli.conftest import CliFailure

pytestmark = pytest.mark.unit

MODES = ("local", "federated", "personalized", "no_network", "centralized", "river_hst",
         "river_loda", "rules_zscore")  # fmt: skip
MODE_KEYS = {"auc_pr", "auc_roc", "f1", "false_alarms_per_device_day", "per_fault_type",
             "auc_pr_injected_macro", "auc_pr_excluding_natural", "alarms_after_fault_end"}  # fmt: skip


def test_missing_intel_lab_file(tmp_path: Path, cli_fails: CliFailure) -> None:
    """A data file that does not exist: one line naming it, exit 2, before any progress bar."""
    line = cli_fails(["simulate", "--intel-lab", str(tmp_path / "nope.txt")])
    assert "nope.txt" in line
    assert "no such" in line


def test_csv_needs_device_column(tmp_path: Path, cli_fails: CliFailure) -> None:
    """--csv without --device-column is refused with a line that names the missing option."""
    path = tmp_path / "x.csv"
    path.write_text("device,t,v,label\n1,0,1.0,0\n")
    assert "--device-column" in cli_fails(["simulate", "--csv", str(path)])


def test_unknown_mode(cli_fails: CliFailure) -> None:
    """An unknown mode is refused and the valid ones are listed."""
    line = cli_fails(["simulate", "--modes", "local,magic"])
    assert "'magic'" in line
    assert "river_hst" in line


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--round-seconds", "60", "--round-rows", "10"], "not both"),
        (["--batch", "0"], "--batch"),
        (["--days", "0"], "--days"),
        (["--devices", "99"], "devices"),
        (["--warmup", "1.5"], "--warmup"),
        (["--device-column", "d"], "need --csv"),
        (["--late-joiners", "1"], "--late-joiners"),
        (["--alarm-budget", "0"], "--alarm-budget"),
    ],
)
def test_bad_option_values(argv: list[str], needle: str, cli_fails: CliFailure) -> None:
    """Bad values and combinations: exit 2 and one line that says which option is wrong."""
    assert needle in cli_fails(["simulate", "--modes", "local", *argv])


def test_tiny_run_writes_the_contract_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """4 devices x 0.6 days through every mode, one late joiner: metrics.json keeps the
    contract (cold start included), PNGs exist."""
    out = tmp_path / "report"
    run(["simulate", "--devices", "4", "--days", "0.6", "--round-seconds", "1800",
         "--late-joiners", "0.25", "--out", str(out)])  # fmt: skip
    stdout = capsys.readouterr().out
    assert "report.md" in stdout
    assert "cold start (1 late joiners, first day)" in stdout
    doc = json.loads((out / "metrics.json").read_text())
    assert {"rows_total", "rows_valid", "rows_rejected", "devices"} <= set(doc["data"])
    assert doc["data"]["devices"] == 4
    assert set(doc["modes"]) == set(MODES)
    for mode in MODES:
        assert set(doc["modes"][mode]) >= MODE_KEYS, mode
        for entry in doc["modes"][mode]["per_fault_type"].values():
            assert {"auc_pr", "recall", "event_recall", "latency_seconds_median"} <= set(entry)
    assert doc["data"]["late_joiner_rows_dropped"] > 0
    cold = doc["cold_start"]
    assert len(cold["devices"]) == 1
    assert cold["join_time"] > 0
    assert set(cold["modes"]) == set(MODES)
    for entry in cold["modes"].values():
        assert {"auc_pr", "auc_pr_injected_macro", "false_alarms_per_device_day"} <= set(entry)
    assert {"rounds", "bytes_sent", "seconds_per_round"} <= set(doc["federation"])
    assert doc["federation"]["rounds"] >= 28  # 14.4 h in 30-minute rounds
    assert doc["federation"]["bytes_sent"] > 0
    assert doc["throughput_rows_per_s"] > 0
    for name in ("auc_pr.png", "recall_per_fault.png", "device_auc_pr.png", "cold_start.png",
                 "loss_per_round.png", "timeline.png"):  # fmt: skip
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert "## Per fault type" in (out / "report.md").read_text()


def test_csv_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A user CSV (device, ISO time, features, label) runs end to end; bad rows are counted."""
    r = generate(seed=3, devices=2, days=0.2).readings
    path = tmp_path / "mine.csv"
    with path.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["sensor", "ts", "temp", "hum", "is_anomaly"])
        for i in range(len(r)):
            temp, hum = (f"{v:.3f}" if np.isfinite(v) else "" for v in r.values[i, :2])
            w.writerow([r.device[i], f"{r.time[i]:.3f}", temp, hum, int(r.label[i])])
        w.writerow(["1", "not-a-time", "1", "2", "0"])
    out = tmp_path / "out"
    run(["simulate", "--csv", str(path), "--device-column", "sensor", "--label-column",
         "is_anomaly", "--time-column", "ts", "--modes", "local,river_hst", "--out", str(out)])  # fmt: skip
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["data"]["rows_rejected"] == {"bad_time": 1}
    assert doc["data"]["features"] == ["temp", "hum"]
    assert set(doc["modes"]) == {"local", "river_hst"}
    assert "report:" in capsys.readouterr().out


def test_intel_lab_file_with_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A data.txt in the real Intel Lab format (quirks included) plus labels.csv runs end to end."""
    data_path, labels_path = generate(seed=5, devices=2, days=0.2).write(tmp_path / "lab")
    out = tmp_path / "out"
    run(["simulate", "--intel-lab", str(data_path), "--labels", str(labels_path),
         "--modes", "local,centralized", "--out", str(out)])  # fmt: skip
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["data"]["rows_total"] > doc["data"]["rows_valid"] > 0
    assert sum(doc["data"]["rows_rejected"].values()) > 0  # the format's quirks are counted
    assert doc["federation"]["rounds"] == 0  # no federated mode ran
    assert "report:" in capsys.readouterr().out


def test_labels_need_intel_lab(tmp_path: Path, cli_fails: CliFailure) -> None:
    """--labels alone is refused: it only makes sense beside --intel-lab."""
    assert "--intel-lab" in cli_fails(["simulate", "--labels", str(tmp_path / "l.csv")])


def test_round_options_build_the_plan() -> None:
    """Default: a round every hour of stream time; --round-rows replaces it; 0 s is refused."""
    from flead.cli.simulate import _settings

    base = {"intel_lab": None, "labels": None, "csv": None, "device_column": None,
            "label_column": None, "time_column": None, "features": None, "round_seconds": None,
            "round_rows": None, "warmup": 0.1, "days": 1.0, "seed": 0, "devices": 2,
            "modes": "local", "batch": 64, "workers": None, "out": Path("x"),
            "late_joiners": 0.0, "alarm_budget": 0.5}  # fmt: skip
    assert _settings(**base).plan.round_seconds == 3600.0
    assert _settings(**(base | {"late_joiners": None})).late_joiners == 0.2  # synthetic
    assert _settings(**(base | {"late_joiners": None, "csv": Path("x.csv"), "device_column": "d",
                                "label_column": "y"})).late_joiners == 0.0  # a user's file  # fmt: skip
    by_rows = _settings(**(base | {"round_rows": 500})).plan
    assert (by_rows.round_seconds, by_rows.round_rows) == (None, 500)
    with pytest.raises(ValueError, match="--round-seconds"):
        _settings(**(base | {"round_seconds": 0.0}))
