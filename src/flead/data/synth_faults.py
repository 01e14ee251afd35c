"""Labelled fault events (spike, drift, offset, noise, stuck, missing) injected into clean series."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FAULT_TYPES", "FaultEvent", "inject_faults"]

FAULT_TYPES: tuple[str, ...] = ("spike", "drift", "offset", "noise", "stuck", "missing")
_LENGTH = {  # readings per event, inclusive range (one reading ~ 31 s)
    "spike": (1, 3),
    "drift": (30, 240),
    "offset": (20, 180),
    "noise": (20, 180),
    "stuck": (30, 240),
    "missing": (10, 120),
}
_KIND_WEIGHTS = np.array([0.4, 0.12, 0.12, 0.12, 0.12, 0.12])  # spikes are short: draw more
_CHANNEL_WEIGHTS = np.array([0.35, 0.35, 0.2, 0.1])  # temperature, humidity, light, voltage
_MIN_SCALE = np.array([0.5, 1.0, 20.0, 0.01])


@dataclass(frozen=True)
class FaultEvent:
    """One injected fault: on mote row `mote`, channel index `channel`, sampling rounds [start, stop)."""

    kind: str
    mote: int
    channel: int
    start: int
    stop: int
    magnitude: float


def _apply(
    rng: np.random.Generator, kind: str, series: np.ndarray, scale: float
) -> tuple[np.ndarray, float]:
    """The faulty version of `series` (one channel over the event window) and its magnitude."""
    n = len(series)
    sign = rng.choice([-1.0, 1.0])
    if kind == "spike":
        size = sign * rng.uniform(5.0, 9.0) * scale
        return series + size, size
    if kind == "drift":
        rate = sign * rng.uniform(3.0, 6.0) * scale / n
        return series + np.arange(n) * rate, rate
    if kind == "offset":
        size = sign * rng.uniform(3.0, 5.0) * scale
        return series + size, size
    if kind == "noise":
        sd = rng.uniform(2.0, 4.0) * scale
        return series + rng.normal(0.0, sd, n), sd
    if kind == "stuck":
        return np.full(n, series[0]), float(series[0])
    if kind == "missing":
        return np.full(n, np.nan), 0.0
    raise ValueError(f"unknown fault type {kind!r}; expected one of {', '.join(FAULT_TYPES)}")


def inject_faults(
    rng: np.random.Generator,
    values: np.ndarray,
    label: np.ndarray,
    fault: np.ndarray,
    kept: np.ndarray,
    warmup: np.ndarray,
    rate: float = 0.015,
) -> list[FaultEvent]:
    """Inject events in place until about `rate` of kept rows are faulty; returns the events.

    `values` [M, R, 4], `label` int8 [M, R], `fault` object [M, R], `kept` bool [M, R] (the rows
    written), `warmup` bool [M, R] (no fault may touch it). Events never overlap each other or
    a natural failure; their size is relative to the mote's healthy spread of that channel.
    """
    m, r = values.shape[:2]
    first = np.array([int(np.argmin(warmup[i])) if not warmup[i].all() else r for i in range(m)])
    healthy = kept & (label == 0)
    scale = np.empty((m, 4))
    for i in range(m):
        spread = np.nanstd(values[i][healthy[i]], axis=0) if healthy[i].any() else _MIN_SCALE
        scale[i] = np.maximum(np.nan_to_num(spread), _MIN_SCALE)
    target = rate * int(kept.sum())
    injected, attempts, events = 0, 0, []
    while injected < target and attempts < 1000 + target:
        attempts += 1
        kind = FAULT_TYPES[int(rng.choice(len(FAULT_TYPES), p=_KIND_WEIGHTS))]
        mote = int(rng.integers(m))
        channel = int(rng.choice(4, p=_CHANNEL_WEIGHTS))
        low, high = _LENGTH[kind]
        length = int(rng.integers(low, high + 1))
        if r - first[mote] <= length:
            continue
        start = int(rng.integers(first[mote], r - length))
        window = slice(start, start + length)
        if label[mote, window].any() or not kept[mote, window].any():
            continue
        new, magnitude = _apply(
            rng, kind, values[mote, window, channel], float(scale[mote, channel])
        )
        values[mote, window, channel] = new
        label[mote, window] = 1
        fault[mote, window] = kind
        injected += int(kept[mote, window].sum())
        events.append(FaultEvent(kind, mote, channel, start, start + length, magnitude))
    return events
