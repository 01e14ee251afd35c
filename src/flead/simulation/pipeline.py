"""`flead simulate` end to end: load, run every mode on the same stream, evaluate, report, plot."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flead.data.records import Readings, ReadStats
from flead.evaluation.baselines import river_hst
from flead.evaluation.plots import Timeline, plot_all
from flead.evaluation.report import build_metrics, write_report
from flead.evaluation.scores import Truth, evaluate
from flead.model import ModelConfig
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


def _data_summary(r: Readings, stats: ReadStats, scored: np.ndarray, src: Source) -> dict[str, Any]:
    label = r.label if r.label is not None else np.zeros(len(r), np.int8)
    fault = r.fault if r.fault is not None else np.where(label == 1, "anomaly", "")
    kinds, counts = np.unique(fault[scored & (label == 1)].astype(str), return_counts=True)
    return {
        "rows_total": stats.rows_total, "rows_valid": stats.rows_valid,
        "rows_rejected": dict(stats.rows_rejected), "devices": len(r.devices()),
        "rows_scored": int(scored.sum()), "anomalous_rows": int((scored & (label == 1)).sum()),
        "fault_rows": {str(k): int(c) for k, c in zip(kinds, counts, strict=True)},
        "features": list(r.features), "source": src.describe(),
        "days": float((r.time[-1] - r.time[0]) / 86400.0) if len(r) else 0.0,
    }  # fmt: skip


def _timeline(r: Readings, scored: np.ndarray, runs: dict[str, ModeRun]) -> Timeline | None:
    """Three devices with the most distinct fault types, as seen by the most telling mode run."""
    mode = next((m for m in ("personalized", "federated", "local", "centralized", "river_hst")
                 if m in runs), None)  # fmt: skip
    if mode is None or r.label is None or r.fault is None:
        return None
    labelled = scored & (r.label == 1)
    rank = []
    for dev in r.devices():
        rows = labelled & (r.device == dev)
        rank.append((-len(set(r.fault[rows].tolist())), -int(rows.sum()), dev))
    devices = [d for _, _, d in sorted(rank)[:3]]
    pick = scored & np.isin(r.device.astype(str), devices)
    run = runs[mode]
    return Timeline(mode, r.device[pick].astype(str), r.time[pick], run.score[pick],
                    run.threshold[pick], run.anomaly[pick], r.label[pick], r.fault[pick].astype(str),
                    devices)  # fmt: skip


def run_simulation(
    s: Settings, track: Tracker | None = None, data: tuple[Readings, ReadStats] | None = None
) -> Outcome:
    """Run every mode of `s` over the same stream and evaluate them on the same scored rows.

    `data` is the already loaded `load(s.source)`, if the caller loaded it.
    """
    readings, stats = data if data is not None else load(s.source)
    scored = scored_mask(readings.device, s.warmup_fraction)
    fault = readings.fault if readings.fault is not None else None
    assert readings.label is not None  # load() refuses unlabelled data
    truth = Truth.of(readings.device[scored], readings.time[scored], readings.label[scored],
                     None if fault is None else fault[scored])  # fmt: skip
    config = ModelConfig()
    runs: dict[str, ModeRun] = {}
    for mode in s.modes:
        advance = track(mode, len(readings)) if track else None
        if mode in FLEAD_MODES:
            runs[mode] = run_mode(mode, readings, config, s.seed, s.plan, advance)
        else:
            runs[mode] = _hst_run(readings, s, advance)
    modes: dict[str, dict[str, Any]] = {}
    for mode, run in runs.items():
        evaluation = evaluate(truth, run.score[scored], run.anomaly[scored])
        modes[mode] = evaluation | {"rows_per_s": run.rows_per_s, "seconds": run.seconds}
    rounds = {m: [asdict(x) for x in r.rounds] for m, r in runs.items() if r.rounds}
    run_info = {"seed": s.seed, "modes": ",".join(s.modes), "batch": s.plan.batch,
                "round_seconds": s.plan.round_seconds, "round_rows": s.plan.round_rows,
                "warmup_fraction": s.warmup_fraction, "model_config": str(config)}  # fmt: skip
    metrics = build_metrics(
        _data_summary(readings, stats, scored, s.source), modes, rounds, run_info
    )
    outcome = Outcome(metrics)
    if s.out is not None:
        plots = plot_all(
            s.out, metrics["modes"], metrics["rounds"], _timeline(readings, scored, runs)
        )
        outcome.files = [*write_report(s.out, metrics, plots), *plots]
    return outcome


def _hst_run(r: Readings, s: Settings, advance: Callable[[int], None] | None) -> ModeRun:
    start = time.perf_counter()
    res = river_hst(r.device, r.values, seed=s.seed, workers=s.workers, progress=advance)
    return ModeRun("river_hst", res.score, res.threshold, res.anomaly, time.perf_counter() - start)
