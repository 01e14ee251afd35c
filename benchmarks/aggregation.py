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

from benchmarks.figure import Figure
from benchmarks.render import show
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


def _figure(
    figure: str, d: int, t: int, ours: float, theirs: float, baseline: str, rate: bool = False
) -> Figure:
    """One figure, FLEAD beside Flower: seconds shown in ms (ratio theirs / ours), or a rate
    of device updates/s (ratio ours / theirs); a ratio > 1 means FLEAD is faster either way."""
    if rate:
        value, baseline_value, unit = ours, theirs, "device updates/s"
    else:
        value, baseline_value, unit = ours * 1e3, theirs * 1e3, "ms"
    return Figure(
        benchmark=f"{figure}, {d:,} devices over {t} trainers",
        value=value,
        unit=unit,
        baseline=baseline,
        baseline_value=baseline_value,
        ratio=ours / theirs if rate else theirs / ours,
    )


def bench_case(devices: int, trainers: int, repeat: int, robust: bool = True) -> list[Figure]:
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
    flower = "one-tier Flower aggregate over the device updates"
    largest = -(-devices // trainers)
    rows = [
        _figure("fedavg round", devices, trainers, min(a + c for a, c, _ in times), flwr_s,
                flower),
        _figure("fedavg close", devices, trainers, close, flwr_s, flower),
        _figure("updates/s", devices, trainers, devices / (accept + close), devices / flwr_s,
                flower, rate=True),
        _figure("trainer build", devices, trainers, build,
                _best(lambda: aggregate(results[:largest]), repeat),
                f"Flower aggregate over the largest trainer's {largest:,} device(s)"),
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
        rows.append(_figure("median round", devices, trainers,
                            min(a + c for a, c, _ in times), theirs,
                            "Flower aggregate_median over the device updates"))  # fmt: skip
    return rows


def run(repeat: int = 5) -> list[Figure]:
    """Every (devices, trainers) case of DEVICES x TRAINERS."""
    rows: list[Figure] = []
    for d in DEVICES:
        for t in TRAINERS:
            rows += bench_case(d, t, repeat, robust=t == TRAINERS[0])
    return rows


def main(argv: list[str] | None = None) -> None:
    """Print the figures (Markdown into a pipe, a table on a terminal)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.aggregation", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure, best kept")
    show("aggregation", run(parser.parse_args(argv).repeat))


if __name__ == "__main__":
    main()
