"""Engine benchmark: DeviceBank prequential rows/s vs River HalfSpaceTrees and vs the matmul ceiling.

All three are timed in CPU seconds of this process (`time.process_time`), so the ratios hold on
a machine shared with other jobs.
"""

from __future__ import annotations

import argparse
import math
import time
from itertools import pairwise
from typing import Any

import numpy as np

from benchmarks.figure import Figure, target_met
from benchmarks.render import show
from flead.model import DeviceBank, ModelConfig
from flead.model.features import TIME_FEATURES

BATCHES = (256, 1024, 4096)
TARGET_RIVER = 50.0
TARGET_CEILING = 0.25


def load_stream(devices: int = 54, days: float = 2.0, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(device, time, values) of the synthetic Intel-Lab-shaped stream, time-sorted."""
    from flead.data.synth import generate

    r = generate(seed=seed, devices=devices, days=days).readings
    return r.device, r.time, r.values


def engine_rows_per_s(stream: tuple[np.ndarray, ...], batch: int, repeat: int = 2) -> float:
    """Best-of-`repeat` prequential throughput of a fresh DeviceBank over the whole stream."""
    dev, t, v = stream
    best = math.inf
    for _ in range(repeat):
        bank = DeviceBank(("temperature", "humidity", "light", "voltage"), seed=0)
        start = time.process_time()
        for s in range(0, len(dev), batch):
            bank.process(dev[s : s + batch], t[s : s + batch], v[s : s + batch])
        best = min(best, time.process_time() - start)
    return len(dev) / best


def river_rows_per_s(stream: tuple[np.ndarray, ...], rows: int = 20000) -> float:
    """River per-device MinMaxScaler | HalfSpaceTrees, score_one then learn_one on each row."""
    from river import anomaly, compose, preprocessing

    dev, _, v = stream
    names = ("temperature", "humidity", "light", "voltage")
    models: dict[str, Any] = {}
    dev, v = dev[:rows], v[:rows].tolist()
    start = time.process_time()
    for d, row in zip(dev, v, strict=True):
        model = models.get(d)
        if model is None:
            model = models[d] = compose.Pipeline(
                preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(seed=0)
            )
        x = {k: val for k, val in zip(names, row, strict=True) if val == val}
        model.score_one(x)
        model.learn_one(x)
    return len(dev) / (time.process_time() - start)


def ceiling_rows_per_s(
    batch: int, devices: int, sizes: tuple[int, ...], repeat: int = 300
) -> float:
    """Only the np.matmul calls of forward + backward passes for `batch` rows over the devices."""
    rng = np.random.default_rng(0)
    m = math.ceil(batch / devices)
    ws = [rng.standard_normal((devices, a, b), dtype=np.float32) for a, b in pairwise(sizes)]
    hs = [rng.standard_normal((devices, m, s), dtype=np.float32) for s in sizes]
    outs = [np.empty_like(h) for h in hs]
    grads = [np.empty_like(w) for w in ws]
    start = time.process_time()
    for _ in range(repeat):
        for i, w in enumerate(ws):  # forward
            np.matmul(hs[i], w, out=outs[i + 1])
        for i in range(len(ws) - 1, -1, -1):  # backward: weight gradients, then the deltas
            np.matmul(hs[i].transpose(0, 2, 1), hs[i + 1], out=grads[i])
            if i > 0:
                np.matmul(hs[i + 1], ws[i].transpose(0, 2, 1), out=outs[i])
    return batch * repeat / (time.process_time() - start)


def run(days: float = 2.0, river_rows: int = 20000, repeat: int = 2) -> list[Figure]:
    """Two figures per micro-batch size: engine rows/s beside River's (ratio = engine / River)
    and beside the matmul ceiling (ratio = engine / ceiling); higher is better in both."""
    stream = load_stream(days=days)
    devices = len(np.unique(stream[0]))
    rows = len(stream[0])
    cfg = ModelConfig()
    sizes = (len(stream[2][0]) + TIME_FEATURES, *cfg.hidden, len(stream[2][0]))
    river = river_rows_per_s(stream, river_rows)
    figures = []
    for batch in BATCHES:
        engine = engine_rows_per_s(stream, batch, repeat)
        ceiling = ceiling_rows_per_s(batch, devices, sizes)
        shape = f"micro-batch {batch} ({rows:,} rows, {devices} devices, CPU time)"
        figures += [
            Figure(
                benchmark=f"engine prequential throughput vs River, {shape}",
                value=engine,
                unit="rows/s",
                baseline=f"River per-device MinMaxScaler | HalfSpaceTrees ({river_rows:,} rows)",
                baseline_value=river,
                ratio=engine / river,
                target=f"ratio ≥ {TARGET_RIVER:g}",
                met=target_met(engine / river, at_least=TARGET_RIVER),
            ),
            Figure(
                benchmark=f"engine prequential throughput vs the matmul ceiling, {shape}",
                value=engine,
                unit="rows/s",
                baseline="only the np.matmul calls of forward + backward",
                baseline_value=ceiling,
                ratio=engine / ceiling,
                target=f"ratio ≥ {TARGET_CEILING:g}",
                met=target_met(engine / ceiling, at_least=TARGET_CEILING),
            ),
        ]
    return figures


def quality(seed: int, days: float = 3.0, batch: int = 1024) -> dict[str, Any]:
    """Prequential quality of the default model on one synthetic seed (labels only to score).

    Rows in the first 10 % of the span (the generator's fault-free warm-up) are excluded.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    from flead.data.synth import generate

    r = generate(seed=seed, devices=54, days=days).readings
    bank = DeviceBank(r.features, seed=0)
    parts = [
        bank.process(r.device[s : s + batch], r.time[s : s + batch], r.values[s : s + batch])
        for s in range(0, len(r), batch)
    ]
    score = np.concatenate([p.score for p in parts])
    flag = np.concatenate([p.anomaly for p in parts])
    assert r.label is not None
    assert r.fault is not None
    label, fault = r.label.astype(bool), r.fault
    ev = r.time >= r.time.min() + 0.1 * days * 86400
    span_days = (r.time.max() - r.time[ev].min()) / 86400
    out: dict[str, Any] = {
        "seed": seed,
        "auc_pr": average_precision_score(label[ev], score[ev]),
        "auc_roc": roc_auc_score(label[ev], score[ev]),
        "false_alarms_per_device_day": float((flag & ~label & ev).sum() / 54 / span_days),
    }
    for kind in sorted(set(fault[ev & label])):
        out[f"recall_{kind}"] = float(flag[ev & (fault == kind)].mean())
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the figures (Markdown into a pipe, a table on a terminal), or quality per seed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__)
    parser.add_argument("--days", type=float, default=2.0, help="days of the 54-device stream")
    parser.add_argument("--river-rows", type=int, default=20000, help="rows River scores")
    parser.add_argument("--repeat", type=int, default=2, help="engine timings per size (best)")
    parser.add_argument("--quality", type=int, nargs="*", help="instead: quality on these seeds")
    args = parser.parse_args(argv)
    if args.quality:
        for seed in args.quality:
            print({k: round(v, 3) if isinstance(v, float) else v for k, v in quality(seed).items()})
        return
    show("engine", run(args.days, args.river_rows, args.repeat))


if __name__ == "__main__":
    main()
