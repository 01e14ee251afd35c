"""Several runs' metrics.json (e.g. seeds 7, 8, 9) as one Markdown quality table: mean, min, max.

Usage: python -m flead.evaluation.quality_table reports/quality/seed-*/metrics.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flead.evaluation.targets import check_targets

__all__ = ["main", "quality_table"]

COLUMNS = (
    ("AUC-PR", ("auc_pr",)),
    ("AUC-ROC", ("auc_roc",)),
    ("event F1", ("f1",)),
    ("point-adj. F1", ("f1_point_adjusted",)),
    ("false alarms / device-day", ("false_alarms_per_device_day",)),
    ("worst-10% device AUC-PR", ("worst_10pct_device_auc_pr",)),
    ("natural stuck recall", ("per_fault_type", "natural_stuck", "recall")),
    ("rows/s", ("rows_per_s",)),
)


def _dig(doc: Any, keys: Sequence[str]) -> float | None:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return float(doc) if isinstance(doc, int | float) else None


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


def _mean(docs: Sequence[dict[str, Any]], mode: str, keys: Sequence[str]) -> float | None:
    got = [v for d in docs if (v := _dig(d["modes"].get(mode, {}), keys)) is not None]
    return float(np.mean(got)) if got else None


def _mean_modes(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Seed-averaged numbers in the shape `check_targets` reads."""
    return {
        mode: {
            "auc_pr": _mean(docs, mode, ("auc_pr",)),
            "false_alarms_per_device_day": _mean(docs, mode, ("false_alarms_per_device_day",)),
            "per_fault_type": {
                "natural_stuck": {
                    "recall": _mean(docs, mode, ("per_fault_type", "natural_stuck", "recall"))
                }
            },
        }
        for mode in docs[0]["modes"]
    }


def quality_table(docs: Sequence[dict[str, Any]]) -> str:
    """Per mode mean (min–max) over the runs, then the §7 targets on the means."""
    seeds = ", ".join(str(d.get("run", {}).get("seed", "?")) for d in docs)
    models = sorted({str(d.get("run", {}).get("model_source_sha256", "?")) for d in docs})
    lines = [f"Mean (min–max) over {len(docs)} runs, seeds {seeds}; model sources sha256 "
             f"{', '.join(models)}.", "",
             "| mode | " + " | ".join(c for c, _ in COLUMNS) + " |", "|" + " --- |" * (len(COLUMNS) + 1)]  # fmt: skip
    for mode in docs[0]["modes"]:
        cells = [_cell([_dig(d["modes"].get(mode, {}), k) for d in docs], 0 if c == "rows/s" else 3)
                 for c, k in COLUMNS]  # fmt: skip
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    lines += [
        "",
        *_fault_table(docs),
        "| target (on the means) | measured | bound | margin | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for t in check_targets(_mean_modes(docs)):
        verdict = "met" if t["met"] else ("n/a" if t["met"] is None else "**missed**")
        nums = [("–" if v is None else f"{v:.3f}") for v in (t["value"], t["bound"], t["margin"])]
        lines.append(f"| {t['target']} | " + " | ".join(nums) + f" | {verdict} |")
    per_run = []
    for d in docs:
        checks = check_targets(d["modes"])
        missed = [t["target"] for t in checks if t["met"] is False]
        met = sum(1 for t in checks if t["met"])
        per_run.append(f"seed {d.get('run', {}).get('seed', '?')}: {met} of {len(checks)}"
                       + (f" (missed: {'; '.join(missed)})" if missed else ""))  # fmt: skip
    lines += ["", "Targets met per run: " + ", ".join(per_run) + "."]
    return "\n".join(lines) + "\n"


def _fault_table(docs: Sequence[dict[str, Any]]) -> list[str]:
    """Per fault type and mode: mean AUC-PR / mean row recall over the runs."""
    modes = list(docs[0]["modes"])
    kinds = sorted(
        {k for d in docs for m in d["modes"].values() for k in m.get("per_fault_type", {})}
    )
    lines = ["Per fault type, AUC-PR / recall (means over the runs):", "",
             "| fault type | " + " | ".join(modes) + " |", "|" + " --- |" * (len(modes) + 1)]  # fmt: skip
    for kind in kinds:
        cells = []
        for mode in modes:
            pr = _mean(docs, mode, ("per_fault_type", kind, "auc_pr"))
            rec = _mean(docs, mode, ("per_fault_type", kind, "recall"))
            cells.append(
                f"{'–' if pr is None else f'{pr:.3f}'} / {'–' if rec is None else f'{rec:.3f}'}"
            )
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table of the metrics.json files named on the command line."""
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m flead.evaluation.quality_table METRICS.json ...", file=sys.stderr)
        return 2
    docs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    print(quality_table(docs), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
