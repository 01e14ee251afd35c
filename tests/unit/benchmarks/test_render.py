"""`make bench` prints Markdown that pastes into README.md, and rich tables only on a terminal."""

from __future__ import annotations

import io

import pytest
from benchmarks.figure import Figure
from benchmarks.render import markdown_table, wants_markdown

pytestmark = pytest.mark.unit

THROUGHPUT = Figure(
    benchmark="trainer throughput",
    value=23_456.7,
    unit="readings/s",
    baseline="raw consume",
    baseline_value=39_012.3,
    ratio=0.601,
    target="ratio ≥ 0.6",
    met=True,
)
LATENCY = Figure(
    benchmark="anomaly p99 | 10k/s",
    value=353.2,
    unit="ms",
    baseline="raw p99",
    baseline_value=46.0,
    ratio=7.678,
    target="p99 ≤ 100 ms",
    met=False,
    detail="p50 45 / p99 353 ms",
)
RSS = Figure("peak RSS", 85.3, "MB", "", None, None, "", None)


def test_markdown_table_text() -> None:
    """Header, separator, one line per figure: detail replaces the value, a pipe in a cell is
    escaped, a miss is bold, a figure without baseline or target leaves those cells blank."""
    assert markdown_table([THROUGHPUT, LATENCY, RSS]).splitlines() == [
        "| benchmark | FLEAD | baseline | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
        "| trainer throughput | 23,457 readings/s | raw consume: 39,012 readings/s | 0.601× "
        "| ratio ≥ 0.6 | met |",
        "| anomaly p99 \\| 10k/s | p50 45 / p99 353 ms | raw p99: 46 ms | 7.68× "
        "| p99 ≤ 100 ms | **missed** |",
        "| peak RSS | 85.3 MB |  |  |  |  |",
    ]


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_markdown_into_a_pipe_rich_on_a_terminal_unless_forced() -> None:
    """A pipe (or CI log, `| tee`) gets Markdown; a terminal gets rich tables unless --markdown."""
    assert wants_markdown(_Stream(tty=False)) is True
    assert wants_markdown(_Stream(tty=True)) is False
    assert wants_markdown(_Stream(tty=True), forced=True) is True
