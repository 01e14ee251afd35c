"""Another fault injector (other kinds, magnitudes and lengths) for the held-out check."""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np

from flead.data.records import Readings

__all__ = ["KINDS", "Event", "inject_other"]

# kind: (magnitude range in robust sd of the channel, length range in rows)
KINDS: dict[str, tuple[tuple[float, float], tuple[int, int]]] = {
    "level": ((1.5, 4.0), (20, 300)),  # a lasting shift
    "ramp": ((2.0, 6.0), (100, 600)),  # a slow linear drift up to the magnitude
    "burst": ((2.0, 5.0), (10, 100)),  # extra Gaussian noise
    "flatline": ((0.0, 0.0), (30, 300)),  # the last value repeats
    "dropout": ((0.0, 0.0), (5, 60)),  # the channel reads nothing
    "glitch": ((4.0, 10.0), (1, 1)),  # one wild reading
}
CHANNELS = (0, 1)  # the first two features (temperature, humidity on Intel-Lab-shaped data)


class Event(NamedTuple):
    """One injected event: device, kind, channel, [start, stop) rows of the device, magnitude."""

    device: str
    kind: str
    channel: int
    start: int
    stop: int
    magnitude: float


def _robust_sd(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return 1.0
    mad = float(np.median(np.abs(np.diff(x)))) * 1.4826 / np.sqrt(2.0)  # sd of the noise
    return mad if mad > 0 else float(np.std(x)) or 1.0


def _apply(x: np.ndarray, kind: str, m: float, rng: np.random.Generator) -> None:
    """Change the window `x` (a view of one channel) in place."""
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if kind == "level":
        x += sign * m
    elif kind == "ramp":
        x += sign * m * np.linspace(0.0, 1.0, len(x))
    elif kind == "burst":
        x += rng.normal(0.0, m, len(x))
    elif kind == "glitch":
        x += sign * m
    elif kind == "dropout":
        x[:] = np.nan


def inject_other(
    r: Readings, seed: int, per_day: float = 4.0, skip: float = 0.1
) -> tuple[Readings, list[Event]]:
    """`r` (time-sorted) plus this injector's faults: about `per_day` events per device-day of
    KINDS on CHANNELS, after each device's first `skip` share of rows; rows already labelled
    (e.g. a natural failure) keep their label and are never overwritten."""
    rng = np.random.default_rng([seed, 0xFA17])
    values = r.values.copy()
    label = np.zeros(len(r), np.int8) if r.label is None else r.label.copy()
    fault = np.full(len(r), "", dtype=object) if r.fault is None else r.fault.copy()
    ids = r.device.astype(str)
    events: list[Event] = []
    kinds = list(KINDS)
    for dev in r.devices():
        rows = np.flatnonzero(ids == dev)
        days = (r.time[rows[-1]] - r.time[rows[0]]) / 86400.0
        budget = max(1, round(per_day * days))
        first = int(np.ceil(skip * len(rows)))
        for _ in range(200):  # attempts; an attempt that would overlap a label is skipped
            if budget <= 0:
                break
            kind = kinds[int(rng.integers(len(kinds)))]
            (m_lo, m_hi), (l_lo, l_hi) = KINDS[kind]
            length = int(rng.integers(l_lo, l_hi + 1))
            if len(rows) - first <= length + 1:
                continue
            start = int(rng.integers(first + 1, len(rows) - length))
            window = rows[start : start + length]
            if label[window].any() or label[rows[start - 1]]:
                continue
            channel = CHANNELS[int(rng.integers(len(CHANNELS)))]
            col = values[:, channel]
            sd = _robust_sd(col[rows[first:]])
            magnitude = float(rng.uniform(m_lo, m_hi)) * sd
            segment = col[window].astype(np.float64)
            if kind == "flatline":
                before = col[rows[start - 1]]
                segment[:] = before if np.isfinite(before) else np.nanmedian(col[rows])
            else:
                _apply(segment, kind, magnitude, rng)
            values[window, channel] = segment.astype(np.float32)
            label[window], fault[window] = 1, kind
            events.append(Event(dev, kind, channel, start, start + length, magnitude))
            budget -= 1
    return replace(r, values=values, label=label, fault=fault), events
