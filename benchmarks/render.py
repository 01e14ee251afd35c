"""Figures as a rich table on a terminal and as Markdown elsewhere, the one printer of every suite."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from benchmarks.figure import Figure, format_number

__all__ = ["COLUMNS", "cells", "markdown_table", "print_rich", "show", "wants_markdown"]

COLUMNS = ("benchmark", "FLEAD", "baseline", "ratio", "target", "met")
MISSED_MARKDOWN = "**missed**"


def wants_markdown(stream: TextIO, forced: bool = False) -> bool:
    """Markdown unless `stream` is a terminal (a pipe, a CI log, `| tee`), or when forced."""
    return forced or not stream.isatty()


def cells(figure: Figure, missed: str = MISSED_MARKDOWN) -> tuple[str, ...]:
    """The six display cells of a figure, in COLUMNS order; `missed` is how a miss reads."""
    ours = figure.detail or _amount(figure.value, figure.unit)
    if figure.baseline_value is None:
        baseline = figure.baseline
    else:
        amount = _amount(figure.baseline_value, figure.unit)
        baseline = f"{figure.baseline}: {amount}" if figure.baseline else amount
    ratio = "" if figure.ratio is None else f"{format_number(figure.ratio)}×"
    met = {True: "met", False: missed, None: ""}[figure.met]
    return figure.benchmark, ours, baseline, ratio, figure.target, met


def markdown_table(figures: Sequence[Figure]) -> str:
    """A GitHub-flavoured Markdown table of the figures (pastes into README.md as it is)."""
    lines = [_markdown_line(COLUMNS), _markdown_line(("---",) * len(COLUMNS))]
    lines += [_markdown_line(cells(figure)) for figure in figures]
    return "\n".join(lines)


def print_rich(console: Console, title: str, figures: Sequence[Figure]) -> None:
    """A table when it fits the console's width; else one block of `column: value` lines per
    figure, so nothing wraps into unreadable cells."""
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column)
    rows = [cells(figure, missed="missed") for figure in figures]
    for figure, row in zip(figures, rows, strict=True):
        style = {True: "green", False: "bold red", None: ""}[figure.met]
        table.add_row(*row[:-1], Text(row[-1], style=style))
    unbounded = console.options.update(max_width=1_000_000)
    if Measurement.get(console, unbounded, table).maximum <= console.width:
        console.print(table)
        return
    console.print(title, style="bold", markup=False)
    width = max(map(len, COLUMNS))
    for row in rows:
        for column, cell in zip(COLUMNS, row, strict=True):
            if cell:
                console.print(f"  {column:<{width}}  {cell}", soft_wrap=True, markup=False)
        console.print()


def show(title: str, figures: Sequence[Figure], markdown: bool | None = None) -> None:
    """Print one suite's figures to stdout: Markdown (forced, or stdout is not a terminal) or
    a rich table (a suite's own `main()` and `make bench` both print through this)."""
    if markdown is None:
        markdown = wants_markdown(sys.stdout)
    if markdown:
        print(f"### {title}\n\n{markdown_table(figures)}\n", flush=True)
    else:
        print_rich(Console(), title, figures)


def _amount(number: float, unit: str) -> str:
    return f"{format_number(number)} {unit}".strip()


def _markdown_line(row: Sequence[str]) -> str:
    escaped = (cell.replace("|", "\\|").replace("\n", " ") for cell in row)
    return "| " + " | ".join(escaped) + " |"
