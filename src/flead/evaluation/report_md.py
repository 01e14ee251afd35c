"""The human-readable `report.md`: summary table, per-fault-type table, federation, targets, notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["fmt", "render_markdown"]

DEFINITIONS = """\
## How these numbers are measured

- Every mode sees the same time-sorted stream in the same micro-batches and is scored
  prequentially (score, then learn). The first {warmup:.0%} of each device's rows are a warm-up:
  learned from, never scored. Thresholds are set without labels.
- **AUC-PR** (average precision) and **AUC-ROC** rank every scored row; AUC-PR is the primary metric.
- **Event F1** (no point adjustment): an *event* is a run of consecutive labelled rows of one
  device and one fault type; recall = events with at least one alarm inside; precision = alarm
  episodes (runs of consecutive alarmed rows) that touch a labelled row. Point-wise F1 and the
  point-adjusted F1 stand beside it; point adjustment flatters random scores, read it with care.
- **False alarms per device-day**: alarm episodes that touch no labelled row, divided by the
  scored device-days.
- **Latency**: seconds from an event's first row to its first alarm, median over detected events.
- **Per fault type**: AUC-PR of that type's rows against the healthy rows; recall = share of its
  rows alarmed at the threshold in force.
"""


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table: fixed digits, thousands for big ones, '–' for missing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += [
        "| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows
    ]
    return [*lines, ""]


def _modes_table(modes: Mapping[str, Any]) -> list[str]:
    header = ["mode", "AUC-PR", "AUC-ROC", "event F1", "F1 point", "F1 point-adj.",
              "false alarms / device-day", "worst 10% device AUC-PR", "median latency s", "rows/s"]  # fmt: skip
    keys = ["auc_pr", "auc_roc", "f1", "f1_point", "f1_point_adjusted",
            "false_alarms_per_device_day", "worst_10pct_device_auc_pr", "latency_seconds_median",
            "rows_per_s"]  # fmt: skip
    rows = [
        [m, *(v.get(k) for k in keys[:-1]), f"{v.get('rows_per_s') or 0:,.0f}"]
        for m, v in modes.items()
    ]
    return _table(header, rows)


def _fault_table(modes: Mapping[str, Any]) -> list[str]:
    kinds = sorted({k for v in modes.values() for k in v.get("per_fault_type", {})})
    header = ["fault type", "rows", "events", *(f"{m} AUC-PR / recall" for m in modes)]
    rows = []
    for kind in kinds:
        first = next(
            v["per_fault_type"][kind] for v in modes.values() if kind in v["per_fault_type"]
        )
        cells = []
        for v in modes.values():
            entry = v.get("per_fault_type", {}).get(kind, {})
            cells.append(f"{fmt(entry.get('auc_pr'))} / {fmt(entry.get('recall'))}")
        rows.append([kind, first.get("rows"), first.get("events"), *cells])
    return _table(header, rows)


def _targets(targets: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = [[t["target"], t["value"], t["bound"], t["margin"],
             "met" if t["met"] else ("n/a" if t["met"] is None else "**missed**")]
            for t in targets]  # fmt: skip
    out = _table(["target", "measured", "bound", "margin", "verdict"], rows)
    missed = [t for t in targets if t["met"] is False]
    if missed:
        out.append("Missed targets (margin = how far from the bound):")
        out += [f"- {t['target']}: missed by {abs(t['margin']):.3f}" for t in missed]
        out.append("")
    return out


def render_markdown(metrics: Mapping[str, Any], plots: Sequence[str]) -> str:
    """The whole report as Markdown text."""
    data, run, fed = metrics["data"], metrics.get("run", {}), metrics["federation"]
    modes = metrics["modes"]
    lines = ["# FLEAD simulation report", "", f"Data: {data.get('source', '?')}.", ""]
    lines += _table(["rows total", "rows valid", "rows rejected", "devices", "rows scored",
                     "anomalous scored rows"],
                    [[data.get("rows_total"), data.get("rows_valid"),
                      sum(data.get("rows_rejected", {}).values()), data.get("devices"),
                      data.get("rows_scored"), data.get("anomalous_rows")]])  # fmt: skip
    if data.get("rows_rejected"):
        lines += ["Rejected rows by reason: "
                  + ", ".join(f"{k} {v:,}" for k, v in data["rows_rejected"].items()), ""]  # fmt: skip
    lines += ["## Quality per mode", "", *_modes_table(modes)]
    lines += ["## Per fault type", "", *_fault_table(modes)]
    lines += ["## Federation", ""]
    lines += _table(["mode", "rounds", "bytes sent", "bytes / round", "s / round",
                     "aggregation s / round", "rounds to 95% of centralized AUC-PR"],
                    [[m, v["rounds"], v["bytes_sent"], v["bytes_per_round"], v["seconds_per_round"],
                      v["aggregate_seconds_per_round"], v.get("rounds_to_95pct_centralized")]
                     for m, v in fed.get("by_mode", {}).items()])  # fmt: skip
    lines += [
        f"Engine throughput (FLEAD modes): {fmt(metrics['throughput_rows_per_s'])} rows/s.",
        "",
    ]
    lines += ["## Targets (issue 2, §7)", "", *_targets(metrics.get("targets", []))]
    lines += [DEFINITIONS.format(warmup=float(run.get("warmup_fraction", 0.1)))]
    if run:
        lines += ["## Run", "", "```", *(f"{k}: {v}" for k, v in run.items()), "```", ""]
    if plots:
        lines += ["## Plots", "", *(f"![{p}]({p})" for p in plots), ""]
    return "\n".join(lines)
