"""`flead simulate` end to end: load, run every mode on the same stream, evaluate, report, plot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flead.data.records import Readings, ReadStats
from flead.evaluation.baselines import HstJob
from flead.evaluation.plots import plot_all
from flead.evaluation.report import build_metrics, write_report
from flead.evaluation.scores import Truth, evaluate
from flead.model import ModelConfig
from flead.simulation.analysis import (
    add_catch_up,
    catch_up,
    data_summary,
    model_fingerprint,
    timeline_of,
)
from flead.simulation.modes import FLEAD_MODES, MODES
from flead.simulation.runner import ModeRun, Plan, run_mode
from flead.simulation.source import Source, load, scored_mask

__all__ = ["Outcome", "Settings", "run_simulation"]

Tracker = Callable[[str, int], Callable[[int], None]]  # (task name, total rows) -> advance(rows)


@dataclass(frozen=True)
class Settings:
    """Everything one simulation needs."""

    source: Source = field(default_factory=Source)
    modes: tuple[str, ...] = MODES
    plan: Plan = field(default_factory=Plan)
    seed: int = 0
    warmup_fraction: float = 0.1
    workers: int | None = None  # processes for river_hst (None: one per core)
    out: Path | None = None


@dataclass
class Outcome:
    """The metrics document and the files written."""

    metrics: dict[str, Any]
    files: list[Path] = field(default_factory=list)


def run_simulation(
    s: Settings, track: Tracker | None = None, data: tuple[Readings, ReadStats] | None = None
) -> Outcome:
    """Run every mode of `s` over the same stream and evaluate them on the same scored rows.

    `data` is the already loaded `load(s.source)`, if the caller loaded it.
    """
    fingerprint = model_fingerprint()  # of the sources as imported now, not as edited later
    readings, stats = data if data is not None else load(s.source)
    scored = scored_mask(readings.device, s.warmup_fraction)
    fault = readings.fault if readings.fault is not None else None
    assert readings.label is not None  # load() refuses unlabelled data
    truth = Truth.of(readings.device[scored], readings.time[scored], readings.label[scored],
                     None if fault is None else fault[scored])  # fmt: skip
    config = ModelConfig()
    runs: dict[str, ModeRun] = {}
    hst = None
    if "river_hst" in s.modes:  # the baseline runs in worker processes while FLEAD modes run here
        advance = track("river_hst", len(readings)) if track else None
        hst = HstJob(readings.device, readings.values, s.seed, s.workers, advance)
    for mode in s.modes:
        if mode in FLEAD_MODES:
            advance = track(mode, len(readings)) if track else None
            runs[mode] = run_mode(mode, readings, config, s.seed, s.plan, advance)
    if hst is not None:
        res = hst.result()
        runs["river_hst"] = ModeRun("river_hst", res.score, res.threshold, res.anomaly, res.seconds)
    modes: dict[str, dict[str, Any]] = {}
    for mode, run in runs.items():
        evaluation = evaluate(truth, run.score[scored], run.anomaly[scored])
        modes[mode] = evaluation | {"rows_per_s": run.rows_per_s, "seconds": run.seconds}
    rounds = {m: [asdict(x) for x in r.rounds] for m, r in runs.items() if r.rounds}
    run_info = {"seed": s.seed, "modes": ",".join(s.modes), "batch": s.plan.batch,
                "round_seconds": s.plan.round_seconds, "round_rows": s.plan.round_rows,
                "warmup_fraction": s.warmup_fraction, "model_config": str(config),
                "model_source_sha256": fingerprint}  # fmt: skip
    metrics = build_metrics(
        data_summary(readings, stats, scored, s.source), modes, rounds, run_info
    )
    add_catch_up(metrics, rounds, catch_up(readings, scored, s.plan, runs))
    outcome = Outcome(metrics)
    if s.out is not None:
        plots = plot_all(
            s.out, metrics["modes"], metrics["rounds"], timeline_of(readings, scored, runs)
        )
        outcome.files = [*write_report(s.out, metrics, plots), *plots]
    return outcome
