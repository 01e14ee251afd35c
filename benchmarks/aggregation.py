"""Aggregation benchmark: FLEAD's rules vs Flower's `aggregate*` on identical inputs, same run."""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable, Sequence
from math import prod
from typing import Any

import numpy as np

from flead.federation.accumulate import RoundAccumulator
from flead.federation.rules import coordinate_median, fedavg, fedavg_stacked, trimmed_mean

Shapes = list[tuple[int, ...]]
Results = list[tuple[list[np.ndarray], int]]

# ~107k parameters in a few arrays: a 256-256-128-64 dense network.
LARGE_SHAPES: Shapes = [(256, 256), (256,), (256, 128), (128,), (128, 64), (64,)]
# Fallback for the engine's per-device MLP (4 channels + 4 context inputs -> 32 -> 16 -> 4).
FALLBACK_PRODUCTION_SHAPES: Shapes = [(8, 32), (32,), (32, 16), (16,), (16, 4), (4,)]
TARGET = 10.0
TRIM_BETA = 0.1


def production_shapes() -> tuple[Shapes, str]:
    """Shapes of the shared (federated) part of the engine's model, or the fallback list."""
    try:
        channels = importlib.import_module("flead.data.records").CHANNELS
        bank = importlib.import_module("flead.model").DeviceBank(channels)
        return [tuple(int(d) for d in s) for s in bank.global_shapes()], "flead.model"
    except Exception:  # the model package may not exist yet
        return FALLBACK_PRODUCTION_SHAPES, "fallback"


def make_results(k: int, shapes: Sequence[tuple[int, ...]], seed: int = 0) -> Results:
    """k float32 updates of the given shapes with random sample counts."""
    rng = np.random.default_rng(seed)
    return [
        ([rng.standard_normal(s, dtype=np.float32) for s in shapes], int(rng.integers(1, 1000)))
        for _ in range(k)
    ]


def best_pair(
    ours: Callable[[], object], theirs: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Best of `repeat` timings of each, interleaved so both see the same machine load."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for i, fn in enumerate((ours, theirs)):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1]


def close_seconds(results: Results, repeat: int) -> float:
    """Best time of RoundAccumulator.close() after the round's updates were added as they came."""
    best = float("inf")
    for _ in range(repeat):
        acc = RoundAccumulator([np.shape(a) for a in results[0][0]])
        for weights, samples in results:
            acc.add(weights, samples)
        start = time.perf_counter()
        acc.close()
        best = min(best, time.perf_counter() - start)
    return best


def accumulate(results: Results) -> list[np.ndarray]:
    """FedAvg the way the aggregator service does it: one add() per arriving update, then close()."""
    acc = RoundAccumulator([np.shape(a) for a in results[0][0]])
    for weights, samples in results:
        acc.add(weights, samples)
    return acc.close()


def _flat(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])


def bench_case(label: str, k: int, shapes: Shapes, repeat: int) -> list[dict[str, Any]]:
    """Rows comparing each of our rules with Flower's equivalent on the same k updates."""
    from flwr.server.strategy.aggregate import (
        aggregate,
        aggregate_median,
        aggregate_trimmed_avg,
    )

    results = make_results(k, shapes)
    params = sum(prod(s) for s in shapes)
    stacked = [np.stack([w[j] for w, _ in results]) for j in range(len(shapes))]
    counts = [n for _, n in results]
    pairs: list[tuple[str, Callable[[], list[np.ndarray]], Callable[[], Any], str]] = [
        ("fedavg", lambda: fedavg(results), lambda: aggregate(results), "aggregate"),
        (
            "RoundAccumulator add+close",
            lambda: accumulate(results),
            lambda: aggregate(results),
            "aggregate",
        ),
        (
            "fedavg_stacked [K,*shape]",
            lambda: fedavg_stacked(stacked, counts),
            lambda: aggregate(results),
            "aggregate",
        ),
        (
            f"trimmed_mean({TRIM_BETA})",
            lambda: trimmed_mean(results, TRIM_BETA),
            lambda: aggregate_trimmed_avg(results, TRIM_BETA),
            "aggregate_trimmed_avg",
        ),
        (
            "coordinate_median",
            lambda: coordinate_median(results),
            lambda: aggregate_median(results),
            "aggregate_median",
        ),
    ]
    rows = []
    for name, ours, theirs, baseline in pairs:
        np.testing.assert_allclose(_flat(ours()), _flat(theirs()), rtol=1e-4, atol=1e-5)
        robust = baseline != "aggregate"
        ours_s, theirs_s = best_pair(ours, theirs, max(1, repeat // 5) if robust else repeat)
        rows.append(_row(label, k, params, name, ours_s, baseline, theirs_s))
        if name == "fedavg":
            flwr_fedavg_s = theirs_s
    rows.insert(
        2,
        _row(
            label,
            k,
            params,
            "RoundAccumulator close() only",
            close_seconds(results, repeat),
            "aggregate",
            flwr_fedavg_s,
        ),
    )
    return rows


def _row(
    label: str, k: int, params: int, rule: str, ours_s: float, baseline: str, theirs_s: float
) -> dict[str, Any]:
    return {
        "case": label,
        "updates": k,
        "params": params,
        "rule": rule,
        "ours_ms": ours_s * 1e3,
        "baseline": f"flwr {baseline}",
        "baseline_ms": theirs_s * 1e3,
        "speedup": theirs_s / ours_s,
        "target": f">= {TARGET:g}x" if rule == "fedavg" else "",
    }


def run(production: Shapes | None = None, repeat: int = 15) -> list[dict[str, Any]]:
    """(a) 200 updates of a ~100k-parameter model; (b) 1000 updates of the production model."""
    source = "given"
    if production is None:
        production, source = production_shapes()
    return [
        *bench_case("~100k-param model", 200, LARGE_SHAPES, repeat),
        *bench_case(f"production model ({source})", 1000, production, repeat),
    ]


def main(argv: list[str] | None = None) -> None:
    """Print the rows as a plain table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.aggregation", description=__doc__)
    parser.add_argument(
        "--repeat",
        type=int,
        default=15,
        help="timings per figure, best kept (robust rules: a fifth)",
    )
    args = parser.parse_args(argv)
    rows = run(repeat=args.repeat)
    print(f"{'case':30} {'rule':30} {'ours ms':>9} {'flwr ms':>9} {'speedup':>8}  baseline")
    for r in rows:
        print(
            f"{r['case']:30} {r['rule']:30} {r['ours_ms']:9.3f} {r['baseline_ms']:9.3f} "
            f"{r['speedup']:7.1f}x  {r['baseline']} (K={r['updates']}, P={r['params']})"
        )


if __name__ == "__main__":
    main()
