"""Aggregation benchmark: the services' Strategy and Participant vs Flower's `aggregate*`, same run.

For D devices over T trainers (production model): the trainers build their partial aggregates
with `Participant.updates` on real DeviceBanks, the aggregator accepts them into a `Strategy` and
closes the round -- what the services run. The baseline is a one-tier Flower server: its
`aggregate` over the D device updates at round end. A robust rule (median) needs every device
(PER_DEVICE), so its rows compare D accepts + close with Flower's `aggregate_median`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from flead.data.records import CHANNELS
from flead.federation import (
    Granularity,
    ModelVersion,
    Participant,
    Rule,
    StrategyConfig,
    Update,
    make_strategy,
)
from flead.federation.flat import flatten
from flead.model import DeviceBank

__all__ = ["main", "run"]

DEVICES = (54, 1000, 10_000)
TRAINERS = (3, 64)
Results = list[tuple[list[np.ndarray], int]]


class _NoTransport:
    """Participant.updates never sends; a transport is needed only to build one."""

    def send(self, update: Update) -> Any:
        raise NotImplementedError

    def send_many(self, updates: Sequence[Update]) -> Any:
        raise NotImplementedError

    def fetch(self, have: int | None) -> ModelVersion | None:
        return None


def _trainer(
    name: str, devices: int, v0: ModelVersion, rng: np.random.Generator, per_device: bool
) -> tuple[list[Update], Results, float]:
    """One trainer's devices with random weights and samples: (its updates, the same as Flower
    results, seconds to build the updates)."""
    bank = DeviceBank(CHANNELS, capacity=devices)
    ids = [f"{name}-{i}" for i in range(devices)]
    for d in ids:
        bank.add(d)
    st = bank.state
    for i in range(st.n_shared):
        st.weights[i][:devices] = v0.tensors[i] + rng.normal(0, 0.01, st.weights[i][:devices].shape)
    st.arrays["samples"][:devices] = rng.integers(1, 1000, devices)
    p = Participant(name, bank, _NoTransport())
    p.granularity = Granularity.PER_DEVICE if per_device else Granularity.PARTIAL
    built = [u for u, _, _ in p.updates(ids)]
    seconds = _best(lambda: p.updates(ids), 3)
    one = np.ones(1)  # each device's federated tensors (network, then its statistics)
    results = [(bank.weighted_shared([d], one), int(bank.local_update(d).samples)) for d in ids]
    return built, results, seconds


def _fleet(
    devices: int, trainers: int, per_device: bool
) -> tuple[ModelVersion, list[Update], Results, float]:
    rng = np.random.default_rng(devices * 100 + trainers)
    v0 = ModelVersion.initial(DeviceBank(CHANNELS).spec)
    sizes = np.full(trainers, devices // trainers)
    sizes[: devices % trainers] += 1
    updates: list[Update] = []
    results: Results = []
    slowest = 0.0
    for t, n in enumerate(sizes.tolist()):
        built, res, seconds = _trainer(f"t{t}", n, v0, rng, per_device)
        updates += built
        results += res
        slowest = max(slowest, seconds)
    return v0, updates, results, slowest


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _round(
    config: StrategyConfig, v0: ModelVersion, updates: Sequence[Update]
) -> tuple[float, float, np.ndarray]:
    """(seconds to accept every update, seconds to close, the new tensors flat)."""
    s = make_strategy(config, v0)
    started = time.perf_counter()
    for u in updates:
        s.accept(u)
    accepted = time.perf_counter() - started
    started = time.perf_counter()
    closed = s.close(0.0)
    closing = time.perf_counter() - started
    assert closed is not None
    return accepted, closing, flatten(closed.version.tensors)[0]


def _rate(per_s: float) -> str:
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if per_s >= div:
            return f"{per_s / div:.3g}{suffix}/s"
    return f"{per_s:.3g}/s"


def _row(
    figure: str, d: int, t: int, ours: float, theirs: float, unit: str = "ms"
) -> dict[str, Any]:
    """One figure; `ratio` > 1 means FLEAD is faster (ms: theirs / ours; rates: ours / theirs)."""
    row: dict[str, Any] = {"figure": figure, "devices": d, "trainers": t}
    if unit == "ms":
        fl, fw, ratio = f"{ours * 1e3:.3g} ms", f"{theirs * 1e3:.3g} ms", theirs / ours
    else:
        fl, fw, ratio = _rate(ours), _rate(theirs), ours / theirs
    return row | {
        "flead": fl,
        "flwr": fw,
        "ratio": f"{ratio:.3g}x" if ratio < 1e3 else f"{ratio:,.0f}x",
    }


def bench_case(
    devices: int, trainers: int, repeat: int, robust: bool = True
) -> list[dict[str, Any]]:
    """Rows for D devices over T trainers: two-tier FedAvg round, its close, device updates
    absorbed per second, the largest trainer's partial build, and (robust) a median round."""
    from flwr.server.strategy.aggregate import aggregate, aggregate_median

    trainers = min(trainers, devices)
    v0, partials, results, build = _fleet(devices, trainers, per_device=False)
    fedavg = StrategyConfig(min_updates=trainers, max_norm=None)
    flwr_s = _best(lambda: aggregate(results), repeat)
    expected = np.concatenate([np.ravel(a) for a in aggregate(results)])
    times = [_round(fedavg, v0, partials) for _ in range(repeat)]
    np.testing.assert_allclose(times[0][2], expected, rtol=1e-4, atol=1e-5)
    accept = min(a for a, _, _ in times)
    close = min(c for _, c, _ in times)
    rows = [
        _row("fedavg round", devices, trainers, min(a + c for a, c, _ in times), flwr_s),
        _row("fedavg close", devices, trainers, close, flwr_s),
        _row("updates/s", devices, trainers, devices / (accept + close), devices / flwr_s, "/s"),
        _row("trainer build", devices, trainers, build, _best(
            lambda: aggregate(results[: -(-devices // trainers)]), repeat)),
    ]  # fmt: skip
    if robust:
        _, singles, _, _ = _fleet(devices, trainers, per_device=True)
        median = StrategyConfig(rule=Rule.MEDIAN, min_updates=devices, max_norm=None)
        r = max(1, repeat // 3)
        times = [_round(median, v0, singles) for _ in range(r)]
        np.testing.assert_allclose(
            times[0][2], np.concatenate([np.ravel(a) for a in aggregate_median(results)]),
            rtol=1e-4, atol=1e-5,
        )  # fmt: skip
        theirs = _best(lambda: aggregate_median(results), r)
        rows.append(_row("median round", devices, trainers,
                         min(a + c for a, c, _ in times), theirs))  # fmt: skip
    return rows


def run(repeat: int = 5) -> list[dict[str, Any]]:
    """Every (devices, trainers) case of DEVICES x TRAINERS."""
    rows: list[dict[str, Any]] = []
    for d in DEVICES:
        for t in TRAINERS:
            rows += bench_case(d, t, repeat, robust=t == TRAINERS[0])
    return rows


def main(argv: list[str] | None = None) -> None:
    """Print the rows as a plain table (80 columns)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.aggregation", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure, best kept")
    args = parser.parse_args(argv)
    print(f"{'figure':14} {'devices':>7} {'trainers':>8} {'flead':>11} {'flwr':>11} {'ratio':>7}")
    for r in run(args.repeat):
        print(f"{r['figure']:14} {r['devices']:7} {r['trainers']:8} {r['flead']:>11} "
              f"{r['flwr']:>11} {r['ratio']:>7}")  # fmt: skip


if __name__ == "__main__":
    main()
