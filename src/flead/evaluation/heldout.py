"""Held-out check on data the generator never made: AnomalySine, blobs, another fault injector.

Usage: python -m flead.evaluation.heldout [--devices 6] [--rows 3000] [--seed 0] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flead.data.records import Readings
from flead.data.synth import generate
from flead.evaluation.baselines import RiverJob
from flead.evaluation.inject import inject_other
from flead.evaluation.report import clean
from flead.evaluation.rules import rules_zscore
from flead.evaluation.scores import Truth, evaluate
from flead.model import ModelConfig
from flead.simulation.runner import Plan, run_mode
from flead.simulation.source import scored_mask

__all__ = ["DATASETS", "anomaly_sine", "blobs", "heldout", "main", "other_faults"]

STEP = 30.0  # seconds between rows of one device (a stream clock for the time-free data too)
FLEAD = ("local", "personalized")
BASELINES = ("river_hst", "river_loda", "rules_zscore")
WARMUP = 0.1
METRICS = ("auc_pr", "auc_pr_injected_macro", "auc_roc", "event_recall",
           "false_alarms_per_device_day")  # fmt: skip


def _readings(parts: Sequence[tuple[np.ndarray, np.ndarray]], features: tuple[str, ...],
              kind: str) -> Readings:  # fmt: skip
    """Devices' (values, label) interleaved in time order, each row STEP s after the last."""
    device, time, values, label = [], [], [], []
    for k, (x, y) in enumerate(parts):
        device.append(np.full(len(x), str(k + 1), dtype=object))
        time.append(1.6e9 + np.arange(len(x)) * STEP + k)  # distinct ties
        values.append(x.astype(np.float32))
        label.append(y.astype(np.int8))
    lab = np.concatenate(label)
    r = Readings(np.concatenate(device), np.concatenate(time), np.concatenate(values), features,
                 lab, np.where(lab == 1, kind, "").astype(object))  # fmt: skip
    return r.sorted_by_time()


def anomaly_sine(devices: int, rows: int, seed: int) -> Readings:
    """`river.datasets.synth.AnomalySine` per device (1 % point and 1 % contextual anomalies;
    each device its own seed, its own phase), rows in stream order."""
    from river.datasets import synth

    parts = []
    for k in range(devices):
        n_anom = max(1, rows // 100)
        ds = synth.AnomalySine(n_samples=rows, n_anomalies=n_anom, contextual=True,
                               n_contextual=n_anom, seed=seed * 1000 + k)  # fmt: skip
        xs, ys = zip(*ds, strict=True)
        x = np.array([[d["sine"], d["cosine"]] for d in xs])
        parts.append((x, np.array(ys, dtype=np.int8)))
    return _readings(parts, ("sine", "cosine"), "anomaly_sine")


def blobs(devices: int, rows: int, seed: int) -> Readings:
    """Tabular data without time structure: scikit-learn `make_blobs` (3 clusters, 4 features,
    each device its own centres) in random order, 3 % uniform outliers from a box 1.5x the
    data's range."""
    from sklearn.datasets import make_blobs

    rng = np.random.default_rng(seed)
    parts = []
    for k in range(devices):
        n_out = max(1, rows * 3 // 100)
        x, _ = make_blobs(n_samples=rows - n_out, centers=3, n_features=4, cluster_std=1.0,
                          random_state=seed * 1000 + k)  # fmt: skip
        lo, hi = x.min(axis=0), x.max(axis=0)
        mid, half = (lo + hi) / 2, (hi - lo) * 0.75
        out = rng.uniform(mid - half, mid + half, size=(n_out, 4))
        allx = np.vstack([x, out])
        y = np.concatenate([np.zeros(len(x)), np.ones(n_out)])
        order = rng.permutation(len(allx))
        parts.append((allx[order], y[order]))
    return _readings(parts, ("f1", "f2", "f3", "f4"), "outlier")


def other_faults(devices: int, rows: int, seed: int) -> Readings:
    """Healthy Intel-Lab-shaped readings (`generate(faults=False)`, a seed the protocol never
    uses) with faults from `flead.evaluation.inject` instead of the generator's: other kinds,
    magnitudes and lengths. The natural failure stays in the stream but is not evaluated."""
    r = generate(seed=90_000 + seed, devices=devices, days=rows / 2700.0, faults=False).readings
    return inject_other(r, seed)[0]


DATASETS: dict[str, Callable[[int, int, int], Readings]] = {
    "anomaly_sine": anomaly_sine, "blobs": blobs, "other_faults": other_faults,
}  # fmt: skip
NATURAL = "natural_stuck"


def _scores(r: Readings, seed: int, budget: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(score, alarm) per input row of every detector, all at the same alarm budget."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    job = RiverJob(BASELINES[:2], r.device, r.time, r.values, seed, budget, WARMUP, 1)
    config = ModelConfig(alarm_budget=budget)
    for mode in FLEAD:
        run = run_mode(mode, r, config, seed, Plan(batch=256, round_seconds=3600.0))
        out[mode] = (run.score, run.anomaly)
    rz = rules_zscore(r.device, r.time, r.values, r.features, budget, WARMUP)
    for kind in BASELINES[:2]:
        res = job.result(kind)
        out[kind] = (res.score, res.anomaly)
    job.close()
    out["rules_zscore"] = (rz.score, rz.anomaly)
    return out


def heldout(devices: int, rows: int, seed: int, budget: float) -> dict[str, Any]:
    """Per data set, per detector: AUC-PR, AUC-ROC, event recall, false alarms per device-day."""
    doc: dict[str, Any] = {"devices": devices, "rows_per_device": rows, "seed": seed,
                           "alarm_budget": budget, "datasets": {}}  # fmt: skip
    for name, make in DATASETS.items():
        r = make(devices, rows, seed)
        assert r.label is not None
        fault = r.fault if r.fault is not None else np.where(r.label == 1, "anomaly", "")
        scored = scored_mask(r.device, WARMUP) & (fault != NATURAL)
        truth = Truth.of(r.device[scored], r.time[scored], r.label[scored], fault[scored])
        per: dict[str, Any] = {}
        for det, (score, alarm) in _scores(r, seed, budget).items():
            m = evaluate(truth, score[scored], alarm[scored])
            per[det] = {k: m[k] for k in METRICS}
            per[det]["per_fault_type"] = {
                k: {f: v[f] for f in ("auc_pr", "event_recall")}
                for k, v in m["per_fault_type"].items()  # type: ignore[attr-defined]
            }
        doc["datasets"][name] = {"rows": len(r), "anomalous_rows": int(r.label[scored].sum()),
                                 "prevalence": float(r.label[scored].mean()), "detectors": per}  # fmt: skip
    return dict(clean(doc))


def markdown(doc: dict[str, Any]) -> str:
    """One table per data set (per fault type too where it has several)."""
    lines = [f"Held-out check: {doc['devices']} devices x {doc['rows_per_device']} rows, seed "
             f"{doc['seed']}, alarm budget {doc['alarm_budget']:g} per device-day.", ""]  # fmt: skip
    for name, d in doc["datasets"].items():
        dets = d["detectors"]
        kinds = sorted({k for m in dets.values() for k in m["per_fault_type"]})
        lines += [f"{name}: {d['rows']:,} rows, prevalence {d['prevalence']:.3f} "
                  "(AUC-PR of a random score).", "",
                  "| detector | AUC-PR | AUC-PR injected (macro) | AUC-ROC | event recall | "
                  "false alarms / device-day |" + ("".join(f" {k} |" for k in kinds)
                                                   if len(kinds) > 1 else ""),
                  "| --- | --- | --- | --- | --- | --- |" + " --- |" * (len(kinds) if len(kinds) > 1 else 0)]  # fmt: skip
        for det, m in dets.items():
            cells = ["–" if m[k] is None else f"{m[k]:.3f}" for k in METRICS]
            if len(kinds) > 1:
                for k in kinds:
                    e = m["per_fault_type"].get(k, {})
                    pr, ev = e.get("auc_pr"), e.get("event_recall")
                    cells.append(f"{'–' if pr is None else f'{pr:.3f}'} / "
                                 f"{'–' if ev is None else f'{ev:.2f}'}")  # fmt: skip
            lines.append(f"| {det} | " + " | ".join(cells) + " |")
        if len(kinds) > 1:
            lines += ["", "Per fault type: AUC-PR / event recall."]
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check and print its tables (and write JSON with --json)."""
    p = argparse.ArgumentParser(prog="python -m flead.evaluation.heldout", description=__doc__)
    p.add_argument("--devices", type=int, default=6)
    p.add_argument("--rows", type=int, default=3000, help="rows per device")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--alarm-budget", type=float, default=ModelConfig.alarm_budget)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    if a.devices < 2 or a.rows < 500 or a.alarm_budget <= 0:
        p.error("needs --devices >= 2, --rows >= 500 and --alarm-budget > 0")
    doc = heldout(a.devices, a.rows, a.seed, a.alarm_budget)
    print(markdown(doc))
    if a.json:
        a.json.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
