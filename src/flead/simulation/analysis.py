"""What a simulation adds to the per-mode metrics: data summary, timeline pick, catch-up rounds."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

import flead.model
from flead.data.records import Readings, ReadStats
from flead.evaluation.convergence import cumulative_auc_pr, rounds_to_reach
from flead.evaluation.plots import Timeline
from flead.simulation.modes import FEDERATED_MODES
from flead.simulation.runner import ModeRun, Plan
from flead.simulation.source import Source

__all__ = ["add_catch_up", "catch_up", "data_summary", "model_fingerprint", "timeline_of"]


def model_fingerprint() -> str:
    """Short sha256 of the model package's sources: which model version produced the numbers."""
    digest = hashlib.sha256()
    for path in sorted(Path(flead.model.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def data_summary(r: Readings, stats: ReadStats, scored: np.ndarray, src: Source) -> dict[str, Any]:
    """The `data` section of metrics.json."""
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


def timeline_of(r: Readings, scored: np.ndarray, runs: dict[str, ModeRun]) -> Timeline | None:
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


def catch_up(
    r: Readings, scored: np.ndarray, plan: Plan, runs: dict[str, ModeRun]
) -> dict[str, int | None]:
    """Per federated mode: rounds until its AUC-PR so far reaches 95% of centralized's so far."""
    if "centralized" not in runs or r.label is None:
        return {}
    _, round_ends = plan.cuts(r.time)
    ends = np.cumsum(scored)[round_ends - 1].tolist()  # round ends as positions among scored rows
    label = r.label[scored]
    reference = cumulative_auc_pr(label, runs["centralized"].score[scored], ends)
    return {
        m: rounds_to_reach(cumulative_auc_pr(label, runs[m].score[scored], ends), reference)
        for m in FEDERATED_MODES
        if m in runs
    }


def add_catch_up(
    metrics: dict[str, Any], rounds: dict[str, list[dict[str, Any]]], reached: dict[str, int | None]
) -> None:
    """Record rounds (and bytes) to 95% of centralized in metrics["federation"]."""
    fed = metrics["federation"]
    for mode, n in reached.items():
        entry = fed["by_mode"].get(mode)
        if entry is None:
            continue
        entry["rounds_to_95pct_centralized"] = n
        entry["bytes_to_95pct_centralized"] = (
            sum(r["bytes_up"] + r["bytes_down"] for r in rounds[mode][:n]) if n else None
        )
        if fed["mode"] == mode:
            fed["rounds_to_95pct_centralized"] = n
            fed["bytes_to_95pct_centralized"] = entry["bytes_to_95pct_centralized"]
