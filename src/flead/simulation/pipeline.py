"""`flead simulate` end to end: load, run every mode on the same stream, evaluate, report, plot."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flead.data.records import Readings, ReadStats
from flead.evaluation.baselines import RiverJob
from flead.evaluation.cold_start import ColdStart, cold_start_metrics
from flead.evaluation.plots import plot_all
from flead.evaluation.report import build_metrics, clean, write_report
from flead.evaluation.rules import rules_zscore
from flead.evaluation.scores import Truth, evaluate
from flead.evaluation.seeds import difference_rows
from flead.evaluation.targets import check_targets
from flead.model import ModelConfig
from flead.simulation.analysis import (
    add_catch_up,
    catch_up,
    data_summary,
    model_fingerprint,
    timeline_of,
)
from flead.simulation.latejoin import late_join
from flead.simulation.modes import FLEAD_MODES, MODES, RIVER_MODES
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
    workers: int | None = None  # processes for the River baselines (None: one per core)
    out: Path | None = None
    late_joiners: float = 0.0  # share of the devices that join at a third of the run
    alarm_budget: float = ModelConfig.alarm_budget  # false-alarm episodes per device-day


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
    streamed = len(readings)
    readings, late = late_join(readings, s.late_joiners, s.seed)
    scored = scored_mask(readings.device, s.warmup_fraction)
    fault = readings.fault if readings.fault is not None else None
    assert readings.label is not None  # load() refuses unlabelled data
    truth = Truth.of(readings.device[scored], readings.time[scored], readings.label[scored],
                     None if fault is None else fault[scored])  # fmt: skip
    config = ModelConfig(alarm_budget=s.alarm_budget)
    runs: dict[str, ModeRun] = {}
    river = [m for m in s.modes if m in RIVER_MODES]
    job = None
    if river:  # the River baselines run in worker processes while the FLEAD modes run here
        advance = {m: track(m, len(readings)) for m in river} if track else None
        job = RiverJob(river, readings.device, readings.time, readings.values, s.seed,
                       s.alarm_budget, s.warmup_fraction, s.workers, advance)  # fmt: skip
    try:
        for mode in s.modes:
            if mode in FLEAD_MODES:
                advance1 = track(mode, len(readings)) if track else None
                runs[mode] = run_mode(mode, readings, config, s.seed, s.plan, advance1)
        if "rules_zscore" in s.modes:
            started = time.perf_counter()
            rz = rules_zscore(readings.device, readings.time, readings.values, readings.features,
                              s.alarm_budget, s.warmup_fraction)  # fmt: skip
            runs["rules_zscore"] = ModeRun("rules_zscore", rz.score, rz.threshold, rz.anomaly,
                                           time.perf_counter() - started)  # fmt: skip
        if job is not None:
            for mode in river:
                res = job.result(mode)
                runs[mode] = ModeRun(mode, res.score, res.threshold, res.anomaly, res.seconds)
    finally:  # a failing mode must not leave the baselines' workers running
        if job is not None:
            job.close()
    runs = {m: runs[m] for m in s.modes if m in runs}  # canonical order
    modes: dict[str, dict[str, Any]] = {}
    for mode, run in runs.items():
        evaluation = evaluate(truth, run.score[scored], run.anomaly[scored])
        modes[mode] = evaluation | {"rows_per_s": run.rows_per_s, "seconds": run.seconds}
    rounds = {m: [asdict(x) for x in r.rounds] for m, r in runs.items() if r.rounds}
    run_info = {"seed": s.seed, "modes": ",".join(s.modes), "batch": s.plan.batch,
                "round_seconds": s.plan.round_seconds, "round_rows": s.plan.round_rows,
                "warmup_fraction": s.warmup_fraction, "model_config": str(config),
                "alarm_budget": s.alarm_budget, "late_joiners": s.late_joiners,
                "model_source_sha256": fingerprint}  # fmt: skip
    metrics = build_metrics(
        data_summary(readings, stats, scored, s.source), modes, rounds, run_info
    )
    add_catch_up(metrics, rounds, catch_up(readings, scored, s.plan, runs))
    metrics["data"]["late_joiner_rows_dropped"] = streamed - len(readings)
    if late is not None:
        cs = ColdStart.of(readings.device, readings.time, readings.label, fault, late.join_time,
                          late.devices)  # fmt: skip
        runs_by = {m: (r.score, r.anomaly) for m, r in runs.items()}
        metrics["cold_start"] = clean(cold_start_metrics(cs, runs_by))
        metrics["targets"] = clean(check_targets(metrics["modes"], metrics["cold_start"]))
    metrics["differences"] = clean(difference_rows([metrics]))
    outcome = Outcome(metrics)
    if s.out is not None:
        plots = plot_all(s.out, metrics, timeline_of(readings, scored, runs))
        outcome.files = [*write_report(s.out, metrics, plots), *plots]
    return outcome
