"""Several runs' metrics.json (seeds 101-105) as Markdown: means, ranges, differences with intervals.

Usage: python -m flead.evaluation.quality_table [--plots DIR] reports/quality/seed-*/metrics.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flead.evaluation.bootstrap import Difference, paired_difference
from flead.evaluation.plots import cold_start_curve, recall_per_fault
from flead.evaluation.report_md import versus_baselines
from flead.evaluation.targets import BASELINES, FLEAD, check_targets

__all__ = ["differences", "main", "plot_means", "quality_table"]

COLUMNS = (
    ("AUC-PR", ("auc_pr",)),
    ("AUC-PR injected (macro)", ("auc_pr_injected_macro",)),
    ("AUC-PR excl. natural", ("auc_pr_excluding_natural",)),
    ("event F1", ("f1",)),
    ("false alarms / device-day", ("false_alarms_per_device_day",)),
    ("alarms after fault end", ("alarms_after_fault_end",)),
    ("natural stuck recall", ("per_fault_type", "natural_stuck", "recall")),
    ("rows/s", ("rows_per_s",)),
)
PER_FAULT = ("auc_pr", "recall", "event_recall", "latency_seconds_median", "alarms_after_fault_end")
COLD = ("auc_pr", "auc_pr_injected_macro", "auc_pr_excluding_natural", "event_recall",
        "false_alarms_per_device_day")  # fmt: skip
DEVICE_KEY = "device_auc_pr_injected_macro"


def _dig(doc: Any, keys: Sequence[str]) -> float | None:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return float(doc) if isinstance(doc, int | float) and not isinstance(doc, bool) else None


def _cell(values: list[float | None], digits: int) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "–"
    mean, lo, hi = float(np.mean(got)), min(got), max(got)
    if digits == 0:
        return f"{mean:,.0f}"
    return (
        f"{mean:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"
        if len(got) > 1
        else f"{mean:.{digits}f}"
    )


def _mean(docs: Sequence[dict[str, Any]], keys: Sequence[str]) -> float | None:
    got = [v for d in docs if (v := _dig(d, keys)) is not None]
    return float(np.mean(got)) if got else None


def _modes(docs: Sequence[dict[str, Any]]) -> list[str]:
    return list(docs[0]["modes"])


def _kinds(docs: Sequence[dict[str, Any]]) -> list[str]:
    return sorted(
        {k for d in docs for m in d["modes"].values() for k in m.get("per_fault_type", {})}
    )


def _mean_modes(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Seed-averaged numbers in the shape `check_targets` and `versus_baselines` read."""
    out: dict[str, Any] = {}
    for mode in _modes(docs):
        base = ("modes", mode)
        entry: dict[str, Any] = {k[0]: _mean(docs, (*base, *k)) for _, k in COLUMNS if len(k) == 1}
        entry["per_fault_type"] = {
            kind: {f: _mean(docs, (*base, "per_fault_type", kind, f)) for f in PER_FAULT}
            for kind in _kinds(docs)
        }
        out[mode] = entry
    return out


def _mean_cold(docs: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    with_cold = [d for d in docs if d.get("cold_start")]
    if not with_cold:
        return None
    modes = list(with_cold[0]["cold_start"]["modes"])
    return {"modes": {m: {k: _mean(with_cold, ("cold_start", "modes", m, k)) for k in COLD}
                      for m in modes}}  # fmt: skip


def _units(docs: Sequence[dict[str, Any]], *path: str) -> dict[str, float]:
    """Per-device values at `path` of every run, keyed run:seed/device (the bootstrap's units)."""
    out: dict[str, float] = {}
    for i, d in enumerate(docs):
        seed = f"{i}:{d.get('run', {}).get('seed', '?')}"
        node: Any = d
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        for dev, value in (node or {}).items():
            if isinstance(value, int | float):
                out[f"{seed}/{dev}"] = float(value)
    return out


def differences(docs: Sequence[dict[str, Any]]) -> list[tuple[str, Difference]]:
    """Every difference the README claims, as (name, mean and bootstrap interval over devices):
    cold start federated/personalized - local, full - no_network, FLEAD - best baseline."""
    modes = _modes(docs)
    means = _mean_modes(docs)
    out: list[tuple[str, Difference]] = []

    def add(name: str, a: dict[str, float], b: dict[str, float]) -> None:
        out.append((name, paired_difference(a, b)))

    cold = _mean_cold(docs)
    for m in ("federated", "personalized", "centralized"):
        if cold and m in cold["modes"] and "local" in cold["modes"]:
            add(f"cold start: {m} - local", _units(docs, "cold_start", "modes", m, DEVICE_KEY),
                _units(docs, "cold_start", "modes", "local", DEVICE_KEY))  # fmt: skip
    dev = {m: _units(docs, "modes", m, DEVICE_KEY) for m in modes}
    for m in ("federated", "personalized"):
        if m in dev and "no_network" in dev:
            add(f"{m} - no_network", dev[m], dev["no_network"])
        if m in dev and "local" in dev:
            add(f"{m} - local", dev[m], dev["local"])
    baselines = [
        b for b in modes if b in BASELINES and means[b]["auc_pr_injected_macro"] is not None
    ]
    if baselines:
        best = max(baselines, key=lambda b: means[b]["auc_pr_injected_macro"])
        for m in modes:
            if m in FLEAD:
                add(f"{m} - best baseline ({best})", dev[m], dev[best])
    return out


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows), ""]  # fmt: skip


def _f(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def quality_table(docs: Sequence[dict[str, Any]]) -> str:
    """Per mode mean (min–max) over the runs, per fault type, versus baselines, cold start,
    differences with bootstrap intervals, then the issue-10 targets on the means."""
    seeds = ", ".join(str(d.get("run", {}).get("seed", "?")) for d in docs)
    models = sorted({str(d.get("run", {}).get("model_source_sha256", "?")) for d in docs})
    modes = _modes(docs)
    lines = [f"Mean (min–max) over {len(docs)} runs, seeds {seeds}; model sources sha256 "
             f"{', '.join(models)}.", ""]  # fmt: skip
    rows = [[m, *(_cell([_dig(d["modes"].get(m, {}), k) for d in docs], 0 if c == "rows/s" else 3)
                  for c, k in COLUMNS)] for m in modes]  # fmt: skip
    lines += _table(["mode", *(c for c, _ in COLUMNS)], rows)
    means = _mean_modes(docs)
    lines += ["Per fault type, AUC-PR / row recall / event recall / median latency s (means over "
              "the runs):", ""]  # fmt: skip
    fault_rows = []
    for kind in _kinds(docs):
        cells = []
        for m in modes:
            e = means[m]["per_fault_type"][kind]
            cells.append(" / ".join([_f(e["auc_pr"]), _f(e["recall"]), _f(e["event_recall"]),
                                     _f(e["latency_seconds_median"], 0)]))  # fmt: skip
        fault_rows.append([kind, *cells])
    lines += _table(["fault type", *modes], fault_rows)
    flead = [m for m in modes if m in FLEAD]
    base = [m for m in modes if m in BASELINES]
    if flead and base:
        lines += [
            "FLEAD against the baselines (mean AUC-PR per fault type, same alarm budget):",
            "",
        ]
        lines += _table(["fault type", *flead], versus_baselines(means, flead, base))
    cold = _mean_cold(docs)
    if cold:
        lines += ["Cold start, late joiners' first day (means over the runs):", ""]
        lines += _table(["mode", *COLD],
                        [[m, *(_f(v[k]) for k in COLD)] for m, v in cold["modes"].items()])  # fmt: skip
    lines += ["Differences of per-device `auc_pr_injected_macro` (mean over devices x seeds, "
              "bootstrap 95 % interval, devices resampled):", ""]  # fmt: skip
    lines += _table(["difference", "mean", "95 % interval", "devices", "excludes 0"],
                    [[name, _f(d.mean), f"[{_f(d.low)}, {_f(d.high)}]", str(d.units),
                      {True: "yes", False: "no", None: "–"}[d.excludes_zero]]
                     for name, d in differences(docs)])  # fmt: skip
    lines += ["| target (on the means) | measured | bound | margin | verdict |",
              "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for t in check_targets(means, cold):
        verdict = "met" if t["met"] else ("n/a" if t["met"] is None else "**missed**")
        nums = [_f(v) for v in (t["value"], t["bound"], t["margin"])]
        lines.append(f"| {t['target']} | " + " | ".join(nums) + f" | {verdict} |")
    per_run = []
    for d in docs:
        checks = check_targets(d["modes"], d.get("cold_start"))
        met = sum(1 for t in checks if t["met"])
        per_run.append(f"seed {d.get('run', {}).get('seed', '?')}: {met} of {len(checks)}")
    lines += ["", "Targets met per run: " + ", ".join(per_run) + "."]
    return "\n".join(lines) + "\n"


def _mean_curves(docs: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """Cold-start curves averaged over the runs, bin by bin (bins without a value skipped)."""
    runs = [d["cold_start"] for d in docs if d.get("cold_start")]
    modes: dict[str, Any] = {}
    for mode in runs[0]["modes"] if runs else []:
        curves = [r["modes"][mode].get(key, []) for r in runs if mode in r["modes"]]
        merged = []
        for i, c in enumerate(curves[0]):
            got = [cv[i]["auc_pr"] for cv in curves if i < len(cv) and cv[i]["auc_pr"] is not None]
            merged.append({"hours_from": c["hours_from"], "hours_to": c["hours_to"],
                           "auc_pr": float(np.mean(got)) if got else None})  # fmt: skip
        modes[mode] = {key: merged}
    return modes


def plot_means(docs: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """The multi-seed figures: recall per fault type per mode and the cold-start curve (means)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [recall_per_fault(_mean_modes(docs), out / "recall_per_fault.png")]
    runs = [d["cold_start"] for d in docs if d.get("cold_start")]
    if runs:
        curves = _mean_curves(docs, "curve")
        for mode, v in _mean_curves(docs, "curve_cumulative").items():
            curves[mode] |= v
        cold = {"devices": runs[0]["devices"], "bin_hours": runs[0].get("bin_hours", 3),
                "modes": curves}  # fmt: skip
        paths.append(cold_start_curve(cold, out / "cold_start.png"))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Print the tables of the metrics.json files named on the command line (--plots DIR also
    writes the mean figures there)."""
    paths = list(sys.argv[1:] if argv is None else argv)
    plots = None
    if len(paths) >= 2 and paths[0] == "--plots":
        plots, paths = Path(paths[1]), paths[2:]
    if not paths:
        print("usage: python -m flead.evaluation.quality_table [--plots DIR] METRICS.json ...",
              file=sys.stderr)  # fmt: skip
        return 2
    docs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    print(quality_table(docs), end="")
    if plots is not None:
        for path in plot_means(docs, plots):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
