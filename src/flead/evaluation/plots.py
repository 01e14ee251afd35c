"""PNG plots of a simulation (matplotlib, Agg backend): quality per mode and fault, cold start, rounds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["Timeline", "plot_all"]

COLORS = {"local": "#4C72B0", "federated": "#55A868", "personalized": "#C44E52",
          "no_network": "#DD8452", "centralized": "#8172B2", "river_hst": "#937860",
          "river_loda": "#DA8BC3", "rules_zscore": "#8C8C8C"}  # fmt: skip


@dataclass(frozen=True)
class Timeline:
    """One mode's output on a few devices, for the timeline plot (rows in time order)."""

    mode: str
    device: np.ndarray
    time: np.ndarray
    score: np.ndarray
    threshold: np.ndarray
    anomaly: np.ndarray
    label: np.ndarray
    fault: np.ndarray
    devices: Sequence[str]


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def auc_pr_bar(modes: Mapping[str, Any], path: Path) -> Path:
    """Bar per mode: overall AUC-PR, with the worst-10%-device AUC-PR as a dot."""
    names = list(modes)
    fig, ax = plt.subplots(figsize=(7, 4))
    values = [modes[m].get("auc_pr") or 0.0 for m in names]
    ax.bar(names, values, color=[COLORS.get(m, "grey") for m in names])
    worst = [modes[m].get("worst_10pct_device_auc_pr") for m in names]
    ax.scatter(names, [w if w is not None else np.nan for w in worst], color="black", zorder=3,
               label="mean of the worst 10% devices")  # fmt: skip
    for i, v in enumerate(values):
        ax.text(i, v + 0.01, f"{v:.3f}", ha="center", va="bottom")
    ax.set(ylim=(0, 1.2), ylabel="AUC-PR", title="AUC-PR per mode")
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def device_box(modes: Mapping[str, Any], path: Path) -> Path:
    """Distribution of per-device AUC-PR, one box per mode."""
    names = [m for m in modes if modes[m].get("device_auc_pr")]
    fig, ax = plt.subplots(figsize=(7, 4))
    if names:
        data = [list(modes[m]["device_auc_pr"].values()) for m in names]
        ax.boxplot(data, tick_labels=names, showmeans=True)
    ax.set(ylim=(0, 1.05), ylabel="AUC-PR of one device", title="Per-device AUC-PR")
    return _save(fig, path)


def loss_per_round(rounds: Mapping[str, Sequence[Mapping[str, Any]]], path: Path) -> Path:
    """Sample-weighted local training loss at every round boundary, per FLEAD mode."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for mode, log in rounds.items():
        loss = [r["loss"] if r["loss"] is not None else np.nan for r in log]
        ax.plot([r["index"] for r in log], loss, label=mode, color=COLORS.get(mode))
    ax.set(xlabel="round", ylabel="forecast loss (normalised MSE / 2)", title="Loss per round")
    ax.set_yscale("log")
    if rounds:
        ax.legend()
    return _save(fig, path)


def timeline(tl: Timeline, path: Path) -> Path:
    """Score and threshold over time for a few devices; ground-truth faults shaded, alarms dotted."""
    fig, axes = plt.subplots(len(tl.devices), 1, figsize=(10, 2.4 * len(tl.devices)), squeeze=False)
    kinds = sorted({str(k) for k in tl.fault[tl.label.astype(bool)]})
    cmap = plt.get_cmap("tab10")
    shade = {k: cmap(i % 10) for i, k in enumerate(kinds)}
    for ax, dev in zip(axes[:, 0], tl.devices, strict=True):
        rows = np.flatnonzero(tl.device == dev)
        hours = (tl.time[rows] - tl.time[0]) / 3600.0
        score = np.maximum(tl.score[rows].astype(np.float64), 1e-3)
        ax.plot(hours, score, lw=0.6, color="#333333", label="score")
        thr = np.where(np.isfinite(tl.threshold[rows]), tl.threshold[rows], np.nan)
        ax.plot(hours, thr, lw=1.0, color="orange", label="threshold")
        hit = tl.anomaly[rows]
        ax.scatter(hours[hit], score[hit], s=6, color="red", zorder=3, label="alarm")
        for kind in kinds:
            mask = tl.label[rows].astype(bool) & (tl.fault[rows] == kind)
            if mask.any():
                ax.fill_between(hours, 0, 1, where=mask, color=shade[kind], alpha=0.3,
                                transform=ax.get_xaxis_transform(), label=kind)  # fmt: skip
        ax.set_yscale("log")
        ax.set(ylabel=f"device {dev}")
        ax.legend(loc="upper left", fontsize=7, ncol=4)
    axes[-1, 0].set_xlabel("hours since the start of the stream")
    axes[0, 0].set_title(f"Anomaly timeline ({tl.mode}); shaded: ground truth")
    return _save(fig, path)


def recall_per_fault(modes: Mapping[str, Any], path: Path) -> Path:
    """Event recall per fault type, one bar per mode; row recall as a black tick on each bar."""
    names = list(modes)
    kinds = sorted({k for v in modes.values() for k in v.get("per_fault_type", {})})
    fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(kinds)), 4.5))
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(kinds))
    for i, mode in enumerate(names):
        per = modes[mode].get("per_fault_type", {})
        ev = [per.get(k, {}).get("event_recall") for k in kinds]
        row = [per.get(k, {}).get("recall") for k in kinds]
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, [np.nan if v is None else v for v in ev], width, label=mode,
               color=COLORS.get(mode, "grey"))  # fmt: skip
        ax.scatter(pos, [np.nan if v is None else v for v in row], marker="_", color="black",
                   s=40, zorder=3, label="row recall" if i == 0 else None)  # fmt: skip
    ax.set_xticks(x, kinds)
    ax.set(ylim=(0, 1.05), ylabel="event recall at the operating threshold",
           title="Recall per fault type (bars: events, ticks: rows)")  # fmt: skip
    ax.legend(fontsize=7, ncol=3, loc="upper left")
    return _save(fig, path)


def _curve_panel(ax: Any, cold: Mapping[str, Any], key: str, title: str) -> None:
    for mode, m in cold.get("modes", {}).items():
        points = [((c["hours_from"] + c["hours_to"]) / 2 if key == "curve" else c["hours_to"],
                   c["auc_pr"]) for c in m.get(key, []) if c.get("auc_pr") is not None]  # fmt: skip
        if not points:
            continue
        x, y = zip(*points, strict=True)
        bold = mode in ("federated", "local")
        ax.plot(x, y, marker="o", lw=2.2 if bold else 0.9, alpha=1.0 if bold else 0.6,
                label=mode, color=COLORS.get(mode, "grey"))  # fmt: skip
    ax.set(xlabel="hours since the device joined", ylim=(0, 1.05), xlim=(0, 24), title=title)


def cold_start_curve(cold: Mapping[str, Any], path: Path) -> Path:
    """AUC-PR of the late joiners' rows per bin of hours since joining (left; bins without an
    anomalous row are skipped) and from joining up to each hour (right), one line per mode."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    hours = cold.get("bin_hours", 3)
    _curve_panel(left, cold, "curve", f"per {hours:g}-hour bin")
    _curve_panel(right, cold, "curve_cumulative", "from joining up to the hour")
    left.set_ylabel("AUC-PR (late joiners pooled)")
    right.legend(fontsize=8, ncol=2)
    fig.suptitle(f"Cold start: {len(cold.get('devices', []))} late joiners, their first day")
    return _save(fig, path)


def plot_all(out: Path, metrics: Mapping[str, Any], tl: Timeline | None) -> list[Path]:
    """Write every plot of a metrics document into `out`; returns the paths in report order."""
    out.mkdir(parents=True, exist_ok=True)
    modes, rounds = metrics["modes"], metrics.get("rounds", {})
    paths = [auc_pr_bar(modes, out / "auc_pr.png"),
             recall_per_fault(modes, out / "recall_per_fault.png"),
             device_box(modes, out / "device_auc_pr.png")]  # fmt: skip
    if metrics.get("cold_start"):
        paths.append(cold_start_curve(metrics["cold_start"], out / "cold_start.png"))
    if rounds:
        paths.append(loss_per_round(rounds, out / "loss_per_round.png"))
    if tl is not None and len(tl.devices):
        paths.append(timeline(tl, out / "timeline.png"))
    return paths
