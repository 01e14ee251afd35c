"""`make bench`: tables that read in an 80-column terminal, and every suite's figures even when one fails."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from benchmarks import __main__ as bench
from benchmarks.figure import FIELDS, Figure
from benchmarks.render import print_rich
from rich.console import Console

pytestmark = pytest.mark.unit


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=80, force_terminal=False, color_system=None), out


def _figure(name: str, met: bool | None = True) -> Figure:
    return Figure(name, 1234.5, "rows/s", "baseline", 617.25, 2.0, "ratio ≥ 1", met)


def test_a_table_too_wide_for_80_columns_prints_one_block_per_figure() -> None:
    """No line is wider than the terminal and every cell appears whole beside its column name."""
    console, out = _console()
    long = "a benchmark with a name long enough to fill the table"
    print_rich(console, "wide (1 s)", [_figure(long), _figure(long + " again", met=False)])
    lines = out.getvalue().splitlines()
    assert max(map(len, lines)) <= 80
    assert f"  benchmark  {long} again" in lines
    assert "  met        missed" in lines
    assert not any("│" in line for line in lines)


def test_a_narrow_table_stays_a_table() -> None:
    """A table that fits is printed as a table, with its title."""
    console, out = _console()
    print_rich(console, "narrow (1 s)", [Figure("x", 2.5, "s", "", None, None, "", None)])
    text = out.getvalue()
    assert "narrow (1 s)" in text
    assert "│" in text or "┃" in text
    assert "2.5 s" in text


def _fake_suites(name: str) -> list[Figure]:
    if name == "decode":
        raise RuntimeError("test bed is not up")
    return [_figure(f"{name} figure")]


def test_a_failing_suite_prints_its_reason_and_the_others_still_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The failure is one line; the suites before and after it print their tables."""
    document = bench.run_all(["engine", "decode", "aggregation"], True, _fake_suites)
    out = capsys.readouterr().out
    assert "**decode: skipped** — RuntimeError: test bed is not up" in out.splitlines()
    assert "| engine figure |" in out
    assert "| aggregation figure |" in out
    assert document["run"]["errors"] == {"decode": "RuntimeError: test bed is not up"}
    assert set(document) == {"run", "engine", "aggregation"}


def test_json_has_the_run_and_each_suites_rows_with_exactly_the_figure_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--json FILE` writes the metadata and typed rows; stdout (a pipe here) gets Markdown."""
    monkeypatch.setattr(bench, "run_suite", _fake_suites)
    out_file = tmp_path / "bench.json"
    assert bench.main(["engine", "decode", "--json", str(out_file)]) == 0
    assert "| benchmark | FLEAD | baseline | ratio | target | met |" in capsys.readouterr().out
    document = json.loads(out_file.read_text())
    assert set(document) == {"run", "engine"}
    assert set(document["run"]) == {"date_utc", "machine", "python", "load_average_1m", "errors"}
    assert set(document["run"]["errors"]) == {"decode"}
    (row,) = document["engine"]
    assert tuple(row) == FIELDS
    assert row == {
        "benchmark": "engine figure",
        "value": 1234.5,
        "unit": "rows/s",
        "baseline": "baseline",
        "baseline_value": 617.25,
        "ratio": 2.0,
        "target": "ratio ≥ 1",
        "met": True,
        "detail": "",
    }
