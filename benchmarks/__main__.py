"""`make bench`: run every benchmark suite and print each figure beside its same-run baseline."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from benchmarks.figure import Figure
from benchmarks.render import print_rich, show, wants_markdown
from flead.logging import configure_logging

SUITES = ("engine", "aggregation", "decode", "services", "operator_scale")


def run_suite(name: str) -> list[Figure]:
    """The figures of `benchmarks.<name>.run()`."""
    module = importlib.import_module(f"benchmarks.{name}")
    figures: list[Figure] = module.run()
    return figures


def run_metadata() -> dict[str, Any]:
    """When and where the figures were measured, for comparing runs."""
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{_cpu_model()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo where there is one, else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_all(
    suites: Sequence[str],
    markdown: bool,
    run: Callable[[str], list[Figure]] | None = None,
) -> dict[str, Any]:
    """Run and print each suite in turn; a failing suite prints its one-line reason and the
    others still run. Returns the JSON document: the run's metadata under `run` (failures
    under `run.errors`) and each suite's rows under its name. `run` defaults to run_suite."""
    run = run or run_suite
    meta = run_metadata()
    heading = (
        f"FLEAD benchmarks — {meta['date_utc']} UTC, {meta['machine']}, python {meta['python']}"
    )
    console = Console()
    print(f"{heading}\n" if markdown else heading, flush=True)
    errors: dict[str, str] = {}
    document: dict[str, Any] = {"run": meta}
    for name in suites:
        started = time.perf_counter()
        try:
            figures = run(name)
        except Exception as exc:  # a suite failing must not hide the others' figures
            reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            errors[name] = reason
            if markdown:
                print(f"**{name}: skipped** — {reason}\n", flush=True)
            else:
                console.print(f"{name}: skipped — {reason}", style="red", markup=False)
            continue
        document[name] = [figure.as_row() for figure in figures]
        title = f"{name} ({time.perf_counter() - started:.0f} s)"
        if markdown:
            show(title, figures, markdown=True)
        else:
            print_rich(console, title, figures)
    meta["errors"] = errors
    return document


def main(argv: list[str] | None = None) -> int:
    """Run the selected suites; a suite whose prerequisites are missing reports why and is skipped."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "suites", nargs="*", default=list(SUITES), help=f"any of {', '.join(SUITES)}"
    )
    parser.add_argument(
        "--json", dest="json_out", metavar="FILE", help="also write every row to this JSON file"
    )
    parser.add_argument("--markdown", action="store_true", help="Markdown tables on a terminal too")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.suites) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(unknown)}")
    # the in-process trainer's and aggregator client's warnings go to stderr, not into the tables
    configure_logging("console", "WARNING")
    document = run_all(args.suites, wants_markdown(sys.stdout, forced=args.markdown))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, ensure_ascii=False, allow_nan=False)
            handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
