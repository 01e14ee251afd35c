"""`flead simulate`: the whole engine in one process, every mode on the same stream, one report."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flead.evaluation.report_md import fmt
from flead.model import ModelConfig
from flead.simulation.modes import MODES, parse_modes
from flead.simulation.pipeline import Settings, run_simulation
from flead.simulation.runner import Plan
from flead.simulation.source import Source, load

__all__ = ["simulate", "summary_table"]

_err = Console(stderr=True)
DEFAULT_DAYS = 2.0
DEFAULT_ROUND_SECONDS = 3600.0
DEFAULT_LATE_JOINERS = 0.2


def _settings(**o: Any) -> Settings:
    """Validate the option combination; ValueError (one line, exit 2) on a bad one."""
    if o["intel_lab"] and o["csv"]:
        raise ValueError("give --intel-lab or --csv, not both")
    if o["csv"] and not o["device_column"]:
        raise ValueError("--csv needs --device-column (the column naming each row's device)")
    if o["csv"] and not o["label_column"]:
        raise ValueError("--csv needs --label-column (0/1 ground truth to evaluate against)")
    if not o["csv"] and (
        o["device_column"] or o["label_column"] or o["time_column"] or o["features"]
    ):
        raise ValueError("--device-column, --label-column, --time-column, --features need --csv")
    if o["labels"] and not o["intel_lab"]:
        raise ValueError("--labels needs --intel-lab")
    if o["round_seconds"] is not None and o["round_rows"] is not None:
        raise ValueError("give --round-seconds or --round-rows, not both")
    if not 0.0 <= o["warmup"] < 1.0:
        raise ValueError(
            f"--warmup is a share of each device's rows in [0, 1), got {o['warmup']:g}"
        )
    if o["days"] <= 0:
        raise ValueError(f"--days must be > 0, got {o['days']:g}")
    if o["late_joiners"] is None:  # synthetic data only: a user's file streams as it is
        o["late_joiners"] = 0.0 if (o["csv"] or o["intel_lab"]) else DEFAULT_LATE_JOINERS
    if not 0.0 <= o["late_joiners"] < 1.0:
        raise ValueError(
            f"--late-joiners is a share of the devices in [0, 1), got {o['late_joiners']:g}"
        )
    if o["alarm_budget"] <= 0:
        raise ValueError(
            f"--alarm-budget must be > 0 episodes per device-day, got {o['alarm_budget']:g}"
        )
    features = [f.strip() for f in o["features"].split(",") if f.strip()] if o["features"] else None
    source = Source(o["seed"], o["devices"], o["days"], o["intel_lab"], o["labels"], o["csv"],
                    o["device_column"], o["label_column"], o["time_column"], features)  # fmt: skip
    round_s = o["round_seconds"] if o["round_seconds"] is not None else DEFAULT_ROUND_SECONDS
    plan = Plan(o["batch"], None if o["round_rows"] is not None else round_s, o["round_rows"])
    return Settings(source, parse_modes(o["modes"]), plan, o["seed"], o["warmup"], o["workers"],
                    o["out"], o["late_joiners"], o["alarm_budget"])  # fmt: skip


@contextmanager
def _progress() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A rich progress bar with one line per mode; yields a tracker factory."""
    bar = Progress(TextColumn("{task.description:<13}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("rows"), TimeElapsedColumn(), console=_err, transient=False)  # fmt: skip

    def track(mode: str, total: int) -> Callable[[int], None]:
        task = bar.add_task(mode, total=total)
        return lambda rows: bar.advance(task, rows)

    with bar:
        yield track


def summary_table(metrics: dict[str, Any]) -> Table:
    """The terminal summary: one row per mode."""
    table = Table(title=f"flead simulate — {metrics['data'].get('source', '')}")
    for column in (
        "mode",
        "AUC-PR",
        "inj.macro",
        "excl.nat",
        "evt F1",
        "FA/dev-day",
        "worst10%",
        "stuck rec",
        "rows/s",
    ):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for mode, m in metrics["modes"].items():
        stuck = m.get("per_fault_type", {}).get("natural_stuck", {}).get("recall")
        table.add_row(mode, fmt(m.get("auc_pr")), fmt(m.get("auc_pr_injected_macro")),
                      fmt(m.get("auc_pr_excluding_natural")), fmt(m.get("f1")),
                      fmt(m.get("false_alarms_per_device_day"), 2),
                      fmt(m.get("worst_10pct_device_auc_pr")), fmt(stuck),
                      f"{m.get('rows_per_s') or 0:,.0f}")  # fmt: skip
    table.caption = ("inj.macro: mean AUC-PR over the injected fault types; excl.nat: AUC-PR without "
                     "the natural failure; FA/dev-day: false-alarm episodes per device-day; "
                     "worst10%: mean AUC-PR of the worst 10% of devices")  # fmt: skip
    return table


def simulate(
    devices: Annotated[int, typer.Option(min=1, max=54, help="synthetic: motes 1..N")] = 54,
    days: Annotated[float, typer.Option(help="synthetic: days of readings (~2,800 per mote a day)")] = DEFAULT_DAYS,
    seed: Annotated[int, typer.Option(help="seed of the synthetic data and of every model")] = 0,
    intel_lab: Annotated[Path | None, typer.Option(help="stream a real Intel Lab data.txt[.gz] instead")] = None,
    labels: Annotated[Path | None, typer.Option(help="with --intel-lab: labels.csv from `flead data synth`")] = None,
    csv: Annotated[Path | None, typer.Option(help="stream your own CSV (needs --device-column, --label-column)")] = None,
    device_column: Annotated[str | None, typer.Option(help="CSV column naming the device")] = None,
    label_column: Annotated[str | None, typer.Option(help="CSV column with 0/1 ground truth")] = None,
    time_column: Annotated[str | None, typer.Option(help="CSV time column (unix seconds or ISO 8601)")] = None,
    features: Annotated[str | None, typer.Option(help="CSV feature columns, comma list (default: all numeric)")] = None,
    modes: Annotated[str, typer.Option(help=f"comma list of {', '.join(MODES)}")] = ",".join(MODES),
    round_seconds: Annotated[float | None, typer.Option(help="a federation round every R stream seconds [default: 3600]")] = None,
    round_rows: Annotated[int | None, typer.Option(help="or a round every R rows of the stream")] = None,
    batch: Annotated[int, typer.Option(help="rows per micro-batch (all devices together)")] = 1024,
    warmup: Annotated[float, typer.Option(help="share of each device's first rows learned from but not scored")] = 0.1,
    workers: Annotated[int | None, typer.Option(help="processes for the River baselines [default: one per core]")] = None,
    late_joiners: Annotated[float | None, typer.Option(help="share of the devices (picked by --seed) that join at a third of the run [default: 0.2 on synthetic data, 0 on files]")] = None,
    alarm_budget: Annotated[float, typer.Option(help="false-alarm episodes per device-day every threshold targets")] = ModelConfig.alarm_budget,
    out: Annotated[Path, typer.Option(help="directory for metrics.json, report.md and the plots")] = Path("reports/simulate"),
) -> None:  # fmt: skip
    """Stream readings through every mode on identical per-device windows and write a report.

    Modes: local (one network per device, nothing shared), federated (FedAvg global model),
    personalized (global model + per-device head, fine-tuned), no_network (personalized with
    the network's output ignored), centralized (one network on all data) and the baselines
    river_hst, river_loda (River) and rules_zscore (range rules + rolling z-score). Each row
    is scored, then learned from; the first --warmup of each device's rows is not scored;
    thresholds never see labels and target --alarm-budget false alarms per device-day.
    --late-joiners devices join at a third of the run (the cold-start evaluation).

    Examples:

      flead simulate --out reports/demo                       # synthetic, 54 motes

      flead simulate --seed 7 --days 3 --modes local,personalized,centralized

      flead simulate --intel-lab data/intel-lab/data.txt.gz --modes local,river_hst

      flead simulate --csv my.csv --device-column sensor --label-column is_anomaly --time-column ts
    """
    settings = _settings(**locals())
    started = time.perf_counter()
    with _err.status(f"loading {settings.source.describe()}"):
        data = load(settings.source)
    with _progress() as track:
        outcome = run_simulation(settings, track, data)
    Console().print(summary_table(outcome.metrics))
    fed = outcome.metrics["federation"]
    if fed.get("rounds"):
        typer.echo(f"federation ({fed['mode']}): {fed['rounds']} rounds, {fed['bytes_sent']:,} bytes sent, "
                   f"{fed['seconds_per_round']:.3f} s per round")  # fmt: skip
    cold = outcome.metrics.get("cold_start")
    if cold:
        parts = [f"{m} {fmt(v.get('auc_pr_injected_macro'))}" for m, v in cold["modes"].items()]
        typer.echo(f"cold start ({len(cold['devices'])} late joiners, first day), AUC-PR injected "
                   f"macro: {', '.join(parts)}")  # fmt: skip
    targets = outcome.metrics["targets"]
    missed = [t for t in targets if t["met"] is False]
    if targets:
        typer.echo(f"quality targets met: {len(targets) - len(missed)} of {len(targets)}"
                   + (f" (missed: {'; '.join(t['target'] for t in missed)})" if missed else ""))  # fmt: skip
    report = next((p for p in outcome.files if p.name == "report.md"), None)
    typer.echo(
        f"report: {report} (metrics.json and plots beside it) in {time.perf_counter() - started:.0f} s"
    )
