"""`flead data ...`: inspect, download and synthesise sensor data (owner: data)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from flead.data import download as dl
from flead.data.csv_source import read_csv
from flead.data.inspect import summarize
from flead.data.intel_lab import read_intel_lab
from flead.data.records import Readings, ReadStats
from flead.data.synth import generate

app = typer.Typer(
    help="Inspect, download and synthesise sensor data.\n\n"
    "Real data: `flead data download` then `flead data inspect data/intel-lab/data.txt.gz`.\n"
    "No internet: `flead data synth --out data/synth` writes the same format with labels.",
    no_args_is_help=True,
)
_err = Console(stderr=True)


def _existing(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ValueError(f"{path}: no such {what} file")
    return path


def load(
    path: Path,
    labels: Path | None = None,
    device_column: str | None = None,
    time_column: str | None = None,
    label_column: str | None = None,
) -> tuple[Readings, ReadStats]:
    """Read an Intel Lab file (with a progress bar) or, given `device_column`, a CSV."""
    _existing(path, "data")
    if device_column:
        return read_csv(path, device_column, label_column, time_column)
    with Progress(TextColumn("reading {task.description}"), BarColumn(), console=_err,
                  transient=True) as bar:  # fmt: skip
        task = bar.add_task(path.name, total=1.0)
        return read_intel_lab(
            path,
            _existing(labels, "labels") if labels else None,
            progress=lambda done: bar.update(task, completed=done),
        )


@app.command()
def inspect(
    path: Annotated[
        Path, typer.Argument(help="data.txt or data.txt.gz (or a CSV with --device-column)")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    labels: Annotated[
        Path | None, typer.Option(help="labels.csv written beside synthetic data")
    ] = None,
    device_column: Annotated[
        str | None, typer.Option(help="read PATH as CSV; its device column")
    ] = None,
    time_column: Annotated[
        str | None, typer.Option(help="CSV time column (ISO or seconds)")
    ] = None,
    label_column: Annotated[str | None, typer.Option(help="CSV 0/1 label column")] = None,
) -> None:
    """Report what the reader made of a file: rows valid / rejected by reason, devices, time range,
    missing values per channel. JSON keys: rows_total, rows_valid, rows_rejected, devices,
    time_range {start, end}, missing {channel: count} (plus features, labelled_anomalies, faults).
    """
    summary = summarize(*load(path, labels, device_column, time_column, label_column))
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(title=str(path), show_header=False)
    table.add_row("rows total", f"{summary['rows_total']:,}")
    table.add_row("rows valid", f"{summary['rows_valid']:,}")
    for reason, count in summary["rows_rejected"].items():
        table.add_row(f"rejected: {reason}", f"{count:,}")
    table.add_row("devices", str(summary["devices"]))
    table.add_row(
        "time range", f"{summary['time_range']['start']} .. {summary['time_range']['end']}"
    )
    for channel, count in summary["missing"].items():
        table.add_row(f"missing: {channel}", f"{count:,}")
    for fault, count in summary.get("faults", {}).items():
        table.add_row(f"labelled: {fault}", f"{count:,}")
    Console().print(table)


@app.command()
def download(
    dest: Annotated[Path, typer.Option(help="directory for the files")] = Path("data/intel-lab"),
    base_url: Annotated[
        str, typer.Option(envvar="FLEAD_DATA_BASE_URL", help="where the files are")
    ] = dl.BASE_URL,
    connect_timeout: Annotated[
        float, typer.Option(min=0.1, help="seconds to wait for a connection")
    ] = dl.CONNECT_TIMEOUT,
) -> None:
    """Download the Intel Lab data (data.txt.gz, mote_locs.txt, connectivity.txt).

    An interrupted download resumes from its `.part` file; sizes and checksums are checked where
    known and the sha256 of each file is printed. Offline it stops within seconds with one line.
    """
    with dl.make_client(connect_timeout) as client, Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=_err, transient=True,
    ) as bar:  # fmt: skip
        for remote in dl.MANIFEST:
            task = bar.add_task(remote.name, total=remote.size)

            def report(done: int, total: int | None, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=total)

            result = dl.download_file(client, base_url, remote, dest, progress=report)
            bar.update(task, completed=result.size, total=result.size)
            note = "downloaded"
            if result.skipped:
                note = "already present"
            elif result.resumed_from:
                note = f"resumed at {result.resumed_from:,} B"
            bar.console.print(f"{result.path}  {result.size:,} B  sha256 {result.sha256}  ({note})")


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="directory for data.txt and labels.csv")] = Path(
        "data/synth"
    ),
    seed: Annotated[int, typer.Option(help="random seed: same seed, same files")] = 0,
    devices: Annotated[int, typer.Option(min=1, max=54, help="motes 1..N (Intel Lab ids)")] = 54,
    days: Annotated[
        float, typer.Option(min=0.01, max=40.0, help="days of readings (~2,800 a mote a day)")
    ] = 3.0,
    faults: Annotated[
        bool,
        typer.Option(help="inject labelled faults (spike, drift, offset, noise, stuck, missing)"),
    ] = True,
) -> None:
    """Write synthetic Intel-Lab-shaped data: data.txt in the real format (unsorted, with its quirks)
    and labels.csv (moteid,date,time,label,fault). Read them back with
    `flead data inspect OUT/data.txt --labels OUT/labels.csv`.
    """
    started = time.perf_counter()
    with _err.status(f"generating {devices} motes x {days:g} days (seed {seed})"):
        data = generate(seed=seed, devices=devices, days=days, faults=faults)
        data_path, labels_path = data.write(out)
    r = data.readings
    anomalous = int(r.label.sum()) if r.label is not None else 0
    typer.echo(
        f"wrote {data_path} ({len(r):,} readings, {anomalous:,} labelled anomalous = "
        f"{anomalous / max(len(r), 1):.1%}) and {labels_path} in {time.perf_counter() - started:.1f} s"
    )
