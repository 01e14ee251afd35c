"""`make bench`: run every benchmark suite and print each figure beside its same-run baseline."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

SUITES = ("engine", "aggregation", "decode", "services", "operator_scale")


def _run_suite(name: str) -> list[dict[str, Any]]:
    module = importlib.import_module(f"benchmarks.{name}")
    rows: list[dict[str, Any]] = module.run()
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the selected suites; a suite whose prerequisites are missing reports why and is skipped."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "suites", nargs="*", default=list(SUITES), help=f"any of {', '.join(SUITES)}"
    )
    parser.add_argument("--json", dest="json_out", help="also write all rows to this JSON file")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.suites) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(unknown)}")
    console = Console()
    console.print(
        f"FLEAD benchmarks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    everything: dict[str, Any] = {}
    for name in args.suites:
        started = time.perf_counter()
        try:
            rows = _run_suite(name)
        except Exception as exc:  # a suite failing must not hide the others' figures
            console.print(f"[red]{name}: skipped — {type(exc).__name__}: {exc}[/red]")
            everything[name] = {"error": str(exc)}
            continue
        everything[name] = rows
        render(console, f"{name} ({time.perf_counter() - started:.0f} s)", rows)
    if args.json_out:
        with open(args.json_out, "w") as handle:
            json.dump(everything, handle, indent=2, default=str)
    return 0


def render(console: Console, title: str, rows: list[dict[str, Any]]) -> None:
    """A table when it fits the terminal (or a pipe's 80 columns); else one block per row of
    `column: value` lines, so nothing wraps into unreadable cells."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_fmt(row.get(column)) for column in columns))
    unbounded = console.options.update(max_width=1_000_000)
    if Measurement.get(console, unbounded, table).maximum <= console.width:
        console.print(table)
        return
    console.print(title, style="bold")
    width = max(map(len, columns), default=0)
    for row in rows:
        for column in columns:
            if row.get(column) is not None:
                console.print(f"  {column:<{width}}  {_fmt(row[column])}", soft_wrap=True)
        console.print()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
