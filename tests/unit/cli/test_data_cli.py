"""`flead data ...` end to end through the real entry point: outputs, exit codes, one-line errors."""

import json
import socket
import time
from pathlib import Path

import pytest

from flead.cli.main import run
from tests.unit.cli.conftest import CliFailure

pytestmark = pytest.mark.unit


def test_synth_then_inspect_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """synth writes data.txt + labels.csv; inspect --json reports them with the contract's keys."""
    run(["data", "synth", "--out", str(tmp_path), "--devices", "4", "--days", "0.5", "--seed", "2"])
    assert "labelled anomalous" in capsys.readouterr().out
    run(
        [
            "data",
            "inspect",
            str(tmp_path / "data.txt"),
            "--labels",
            str(tmp_path / "labels.csv"),
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert {"rows_total", "rows_valid", "rows_rejected", "devices", "time_range", "missing"} <= set(
        summary
    )
    assert summary["devices"] == 4
    assert set(summary["time_range"]) == {"start", "end"}
    assert set(summary["missing"]) == {"temperature", "humidity", "light", "voltage"}
    assert summary["rows_rejected"]["short_row"] >= 1


def test_inspect_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json inspect prints a table with the rejected reasons."""
    path = tmp_path / "data.txt"
    path.write_text(
        "2004-02-28 00:59:16.02785 3 1 19.9884 37.0933 45.08 2.69964\n2004-03-01 11:17:43.555882 17\n"
    )
    run(["data", "inspect", str(path)])
    out = capsys.readouterr().out
    assert "rejected: short_row" in out
    assert "rows valid" in out


def test_inspect_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """inspect reads a CSV when given --device-column."""
    path = tmp_path / "in.csv"
    path.write_text("dev,t,x,y\na,1,2,3\nb,2,,4\n")
    run(["data", "inspect", str(path), "--device-column", "dev", "--time-column", "t", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["missing"] == {"x": 1, "y": 0}


def test_missing_file(tmp_path: Path, cli_fails: CliFailure) -> None:
    """A missing data file is one line naming it, exit 2."""
    line = cli_fails(["data", "inspect", str(tmp_path / "nope.txt")])
    assert "nope.txt: no such data file" in line


def test_non_numeric_devices(tmp_path: Path, cli_fails: CliFailure) -> None:
    """--devices abc is a usage error on one line, exit 2."""
    line = cli_fails(["data", "synth", "--out", str(tmp_path), "--devices", "abc"])
    assert "--devices" in line


def test_csv_without_named_column(tmp_path: Path, cli_fails: CliFailure) -> None:
    """A CSV lacking the named device column is one line naming the column, exit 2."""
    path = tmp_path / "in.csv"
    path.write_text("a,b\n1,2\n")
    line = cli_fails(["data", "inspect", str(path), "--device-column", "device"])
    assert "no column 'device'" in line


def test_download_offline_fails_fast(tmp_path: Path, cli_fails: CliFailure) -> None:
    """download against a closed port stops within seconds with one line, exit 2, nothing written."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    line = cli_fails(
        [
            "data",
            "download",
            "--dest",
            str(tmp_path / "d"),
            "--base-url",
            f"http://127.0.0.1:{port}/",
        ]
    )
    assert time.monotonic() - started < 6.0
    assert line.startswith("flead: error: cannot download")
    assert not list((tmp_path / "d").glob("*.gz"))
