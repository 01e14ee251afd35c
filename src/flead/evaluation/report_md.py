"""The human-readable `report.md`: summary table, per-fault-type table, federation, targets, notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flead.evaluation.seeds import differences
from flead.evaluation.targets import BASELINES, FLEAD

__all__ = ["differences_table", "fmt", "render_markdown", "versus_baselines", "versus_tables"]

DEFINITIONS = """\
## How these numbers are measured

- Every mode sees the same time-sorted stream in the same micro-batches and is scored
  prequentially (score, then learn). The first {warmup:.0%} of each device's rows are a warm-up:
  learned from, never scored. Thresholds are set without labels; every detector targets the
  same false-alarm budget of {budget:g} episodes per device-day (FLEAD: `ModelConfig.alarm_budget`;
  baselines: per device, the 1 - budget / rows-per-day quantile of its own earlier scores,
  refreshed every 250 rows).
- **AUC-PR** (average precision) ranks every scored row; `auc_pr_injected_macro` is the mean
  AUC-PR over the injected fault types (each type's rows against the healthy rows), the
  natural failure (`natural_stuck`, which a range rule carries) left out;
  `auc_pr_excluding_natural` is the AUC-PR of all scored rows without the natural-failure rows.
- **Alarm episodes**: a device's alarms are grouped greedily into episodes of at most 5 minutes
  of stream time (the fewest 5-minute windows that cover them), so raising the threshold never
  adds one. **False alarms per device-day** = episodes of alarmed healthy rows / scored
  device-days. Event precision = episodes of alarmed faulty rows / all episodes.
- **Event recall** (no point adjustment): an *event* is a run of consecutive labelled rows of one
  device and one fault type; it is detected when one of its rows is alarmed. Row recall = share
  of its rows alarmed. Point-adjusted F1 flatters random scores; read it with care.
- **Latency**: seconds from an event's first row to its first alarm, median over detected events.
- **alarms_after_fault_end**: share of events (followed by more rows of their device) of which a
  healthy row among the next 10 rows is alarmed.
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
    header = ["mode", "AUC-PR", "AUC-PR injected (macro)", "AUC-PR excl. natural", "AUC-ROC",
              "event F1", "false alarms / device-day", "alarms after fault end",
              "worst 10% device AUC-PR", "median latency s", "rows/s"]  # fmt: skip
    keys = ["auc_pr", "auc_pr_injected_macro", "auc_pr_excluding_natural", "auc_roc", "f1",
            "false_alarms_per_device_day", "alarms_after_fault_end", "worst_10pct_device_auc_pr",
            "latency_seconds_median"]  # fmt: skip
    rows = [[m, *(v.get(k) for k in keys), f"{v.get('rows_per_s') or 0:,.0f}"]
            for m, v in modes.items()]  # fmt: skip
    return _table(header, rows)


def _kinds(modes: Mapping[str, Any]) -> list[str]:
    return sorted({k for v in modes.values() for k in v.get("per_fault_type", {})})


def _fault_table(modes: Mapping[str, Any]) -> list[str]:
    """Per fault type and mode: AUC-PR / row recall / event recall / median latency (s)."""
    header = ["fault type", "rows", "events", *modes]
    rows = []
    for kind in _kinds(modes):
        first = next(
            v["per_fault_type"][kind] for v in modes.values() if kind in v["per_fault_type"]
        )
        cells = []
        for v in modes.values():
            e = v.get("per_fault_type", {}).get(kind, {})
            cells.append(" / ".join(fmt(e.get(k), 0 if k.startswith("lat") else 3)
                                    for k in ("auc_pr", "recall", "event_recall",
                                              "latency_seconds_median")))  # fmt: skip
        rows.append([kind, first.get("rows"), first.get("events"), *cells])
    return [
        "Each cell: AUC-PR / row recall / event recall / median latency (s).",
        "",
        *_table(header, rows),
    ]


OVERALL = {"auc_pr": "auc_pr_injected_macro", "event_recall": "event_recall"}


def versus_baselines(
    modes: Mapping[str, Any],
    flead: Sequence[str],
    baselines: Sequence[str],
    key: str = "auc_pr",
) -> list[list[str]]:
    """Per fault type (and overall: the injected macro for AUC-PR), per FLEAD mode: the
    baselines it beats and the ones it loses to on `key` (auc_pr, or event_recall at the
    operating threshold); a difference within 0.005 counts as neither."""
    overall = f"(overall: {OVERALL[key]})"
    rows = []
    for kind in [*_kinds(modes), overall]:

        def value(m: str, kind: str = kind) -> float | None:
            v = modes[m]
            got = (v.get(OVERALL[key]) if kind == overall
                   else v.get("per_fault_type", {}).get(kind, {}).get(key))  # fmt: skip
            return None if got is None else float(got)

        cells = []
        for m in flead:
            mine = value(m)
            other = {b: o for b in baselines if (o := value(b)) is not None}
            won = [b for b, o in other.items() if mine is not None and mine > o + 0.005]
            lost = [b for b, o in other.items() if mine is not None and mine < o - 0.005]
            cells.append(("beats " + ", ".join(won) if won else "beats none")
                         + ("; loses to " + ", ".join(lost) if lost else ""))  # fmt: skip
        rows.append([kind, *cells])
    return rows


def versus_tables(modes: Mapping[str, Any], heading: str) -> list[str]:
    """Both versus-baselines tables (AUC-PR, event recall at the operating threshold)."""
    baselines = [m for m in modes if m in BASELINES]
    flead = [m for m in modes if m in FLEAD]
    if not baselines or not flead:
        return []
    out = []
    for key, what in (
        ("auc_pr", "AUC-PR"),
        ("event_recall", "event recall at the operating threshold"),
    ):
        out += [f"{heading}{what} per fault type, same alarm budget:", "",
                *_table(["fault type", *flead], versus_baselines(modes, flead, baselines, key))]  # fmt: skip
    return out


def _versus(modes: Mapping[str, Any]) -> list[str]:
    tables = versus_tables(modes, "")
    note = (
        "All detectors target the same alarm budget; what each one actually spends (false "
        "alarms per device-day) is in the first table: read event recall beside it."
    )
    return ["## FLEAD against the baselines", "", note, "", *tables] if tables else []


def differences_table(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The differences the README claims, each with its bootstrap interval over devices."""
    rows = []
    for name, d in differences(docs):
        zero = {True: "yes", False: "no", None: "–"}[d.excludes_zero]
        rows.append([name, fmt(d.mean), f"[{fmt(d.low)}, {fmt(d.high)}]", str(d.units), zero])
    if not rows:
        return []
    return [
        "Differences of per-device `auc_pr_injected_macro` (mean over devices x runs, bootstrap "
        "95 % interval, devices resampled):",
        "",
        *_table(["difference", "mean", "95 % interval", "devices", "excludes 0"], rows),
    ]


def _cold_start(cold: Mapping[str, Any] | None) -> list[str]:
    if not cold:
        return []
    rows = [[m, v.get("auc_pr"), v.get("auc_pr_injected_macro"), v.get("auc_pr_excluding_natural"),
             v.get("event_recall"), v.get("false_alarms_per_device_day")]
            for m, v in cold.get("modes", {}).items()]  # fmt: skip
    return [
        "## Cold start (late joiners' first day after joining)", "",
        f"{len(cold.get('devices', []))} devices ({', '.join(cold.get('devices', []))}) join at "
        f"hour {fmt(cold.get('join_hours_after_start'), 1)} of the stream; their {fmt(cold.get('rows'))} first-day rows "
        f"({fmt(cold.get('anomalous_rows'))} anomalous) are all evaluated (no evaluation warm-up).",
        "",
        *_table(["mode", "AUC-PR", "AUC-PR injected (macro)", "AUC-PR excl. natural",
                 "event recall", "false alarms / device-day"], rows),
    ]  # fmt: skip


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
    lines += _versus(modes)
    lines += _cold_start(metrics.get("cold_start"))
    lines += ["## Differences (this run)", "", *differences_table([metrics])]
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
    lines += ["## Targets (issue 10, §3)", "", *_targets(metrics.get("targets", []))]
    lines += [DEFINITIONS.format(warmup=float(run.get("warmup_fraction", 0.1)),
                                 budget=float(run.get("alarm_budget", 0.5)))]  # fmt: skip
    if run:
        lines += ["## Run", "", "```", *(f"{k}: {v}" for k, v in run.items()), "```", ""]
    if plots:
        lines += ["## Plots", "", *(f"![{p}]({p})" for p in plots), ""]
    return "\n".join(lines)
