"""Several runs' metrics.json (seeds 101-105) as Markdown: means, ranges, differences with intervals.

Usage: python -m flead.evaluation.quality_table [--plots DIR] [--json OUT]
       reports/quality/seed-*/metrics.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flead.evaluation.plots import cold_start_curve, recall_per_fault
from flead.evaluation.report import clean
from flead.evaluation.report_md import differences_table, versus_tables
from flead.evaluation.seeds import (
    COLD,
    COLUMNS,
    cell,
    difference_rows,
    dig,
    kinds,
    mean_cold,
    mean_modes,
    modes_of,
)
from flead.evaluation.targets import check_targets

__all__ = ["main", "plot_means", "quality_table"]


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
    modes = modes_of(docs)
    lines = [f"Mean (min–max) over {len(docs)} runs, seeds {seeds}; model sources sha256 "
             f"{', '.join(models)}.", ""]  # fmt: skip
    rows = [[m, *(cell([dig(d["modes"].get(m, {}), k) for d in docs], 0 if c == "rows/s" else 3)
                  for c, k in COLUMNS)] for m in modes]  # fmt: skip
    lines += _table(["mode", *(c for c, _ in COLUMNS)], rows)
    means = mean_modes(docs)
    lines += ["Per fault type, AUC-PR / row recall / event recall / median latency s (means over "
              "the runs):", ""]  # fmt: skip
    fault_rows = []
    for kind in kinds(docs):
        cells = []
        for m in modes:
            e = means[m]["per_fault_type"][kind]
            cells.append(" / ".join([_f(e["auc_pr"]), _f(e["recall"]), _f(e["event_recall"]),
                                     _f(e["latency_seconds_median"], 0)]))  # fmt: skip
        fault_rows.append([kind, *cells])
    lines += _table(["fault type", *modes], fault_rows)
    lines += versus_tables(means, "FLEAD against the baselines on the means over the runs, ")
    cold = mean_cold(docs)
    if cold:
        lines += ["Cold start, late joiners' first day (means over the runs):", ""]
        lines += _table(["mode", *COLD],
                        [[m, *(_f(v[k]) for k in COLD)] for m, v in cold["modes"].items()])  # fmt: skip
        lines += _curve_table(docs)
    lines += differences_table(docs)
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


def _curve_table(docs: Sequence[dict[str, Any]]) -> list[str]:
    """The cold-start curve as numbers: mean AUC-PR per bin since joining, per mode."""
    curves = _mean_curves(docs, "curve")
    if not curves:
        return []
    bins = [
        f"{c['hours_from']:g}–{c['hours_to']:g} h" for c in next(iter(curves.values()))["curve"]
    ]
    rows = [[m, *(_f(c["auc_pr"]) for c in v["curve"])] for m, v in curves.items()]
    return ["Cold-start curve: AUC-PR of the late joiners per bin of hours since joining (mean "
            "over the runs with a value):", "", *_table(["mode", *bins], rows)]  # fmt: skip


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
    paths = [recall_per_fault(mean_modes(docs), out / "recall_per_fault.png")]
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
    opts: dict[str, Path] = {}
    while len(paths) >= 2 and paths[0] in ("--plots", "--json"):
        opts[paths[0]], paths = Path(paths[1]), paths[2:]
    if not paths:
        print("usage: python -m flead.evaluation.quality_table [--plots DIR] [--json OUT] "
              "METRICS.json ...", file=sys.stderr)  # fmt: skip
        return 2
    docs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    print(quality_table(docs), end="")
    if "--json" in opts:
        summary = {"seeds": [d.get("run", {}).get("seed") for d in docs],
                   "modes": mean_modes(docs), "cold_start": mean_cold(docs),
                   "differences": difference_rows(docs),
                   "targets": check_targets(mean_modes(docs), mean_cold(docs))}  # fmt: skip
        opts["--json"].write_text(json.dumps(clean(summary), indent=2) + "\n", encoding="utf-8")
    plots = opts.get("--plots")
    if plots is not None:
        for path in plot_means(docs, plots):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
