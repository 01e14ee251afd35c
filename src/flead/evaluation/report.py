"""`metrics.json` (the contract other tools read) and `report.md` from a simulation's results."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flead.evaluation.report_md import render_markdown
from flead.evaluation.targets import FLEAD, check_targets

__all__ = ["build_metrics", "clean", "federation_summary", "write_report"]


def federation_summary(rounds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals of a federated mode's round log (rows as `RoundLog` fields)."""
    n = len(rounds)
    up = sum(int(r["bytes_up"]) for r in rounds)
    down = sum(int(r["bytes_down"]) for r in rounds)
    wall = sum(float(r["wall_seconds"]) for r in rounds)
    agg = sum(float(r["aggregate_seconds"]) for r in rounds)
    return {
        "rounds": n,
        "bytes_sent": up + down,
        "bytes_up": up,
        "bytes_down": down,
        "bytes_per_round": (up + down) / n if n else 0.0,
        "seconds_per_round": wall / n if n else 0.0,
        "aggregate_seconds_per_round": agg / n if n else 0.0,
        "mean_participants": sum(int(r["participants"]) for r in rounds) / n if n else 0.0,
    }


def clean(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become null (strict JSON has no NaN/Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def build_metrics(
    data: Mapping[str, Any],
    modes: Mapping[str, Mapping[str, Any]],
    rounds: Mapping[str, Sequence[Mapping[str, Any]]],
    run: Mapping[str, Any],
) -> dict[str, Any]:
    """The metrics.json document.

    `data` holds rows_total, rows_valid, rows_rejected, devices (plus extras); `modes` each mode's
    evaluation (with rows_per_s); `rounds` each FLEAD mode's round log; `run` the settings used.
    """
    by_mode = {
        m: federation_summary(r) for m, r in rounds.items() if any(x["participants"] for x in r)
    }
    main = next((m for m in ("federated", "personalized") if m in by_mode), None)
    federation: dict[str, Any] = dict(by_mode[main]) if main else federation_summary([])
    federation |= {"mode": main, "by_mode": by_mode}
    flead = [m for m in modes if m in FLEAD]
    rows = sum(int(data.get("rows_valid", 0)) for _ in flead)
    secs = sum(float(modes[m].get("seconds", 0.0)) for m in flead)
    doc = {
        "data": dict(data),
        "modes": {m: dict(v) for m, v in modes.items()},
        "federation": federation,
        "throughput_rows_per_s": rows / secs if secs > 0 else 0.0,
        "throughput_by_mode": {m: v.get("rows_per_s") for m, v in modes.items()},
        "targets": check_targets(dict(modes)),
        "rounds": {m: list(r) for m, r in rounds.items()},
        "run": dict(run),
    }
    return dict(clean(doc))


def write_report(out: Path, metrics: Mapping[str, Any], plots: Sequence[Path]) -> tuple[Path, Path]:
    """Write metrics.json and report.md into `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "metrics.json", out / "report.md"
    json_path.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(metrics, [p.name for p in plots]), encoding="utf-8")
    return json_path, md_path
