"""`make bench` output reads well in an 80-column pipe: wide tables become per-row blocks."""

from __future__ import annotations

import io

import pytest
from benchmarks.__main__ import render
from rich.console import Console

pytestmark = pytest.mark.unit


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=80, force_terminal=False, color_system=None), out


def test_a_table_too_wide_for_80_columns_prints_one_block_per_row() -> None:
    """No line is wider than the pipe and every figure appears whole beside its column name."""
    console, out = _console()
    rows = [
        {f"column_{i}": f"value-{row}-{i}-with-some-length" for i in range(8)} for row in range(2)
    ]
    render(console, "wide (1 s)", rows)
    lines = out.getvalue().splitlines()
    assert max(map(len, lines)) <= 80
    assert "  column_7  value-1-7-with-some-length" in lines
    assert not any("│" in line for line in lines)


def test_a_narrow_table_stays_a_table() -> None:
    """A table that fits is printed as a table, with its title."""
    console, out = _console()
    render(console, "narrow (1 s)", [{"figure": "x", "ratio": 2.5}])
    text = out.getvalue()
    assert "narrow (1 s)" in text
    assert "│" in text or "┃" in text
    assert "2.5" in text
