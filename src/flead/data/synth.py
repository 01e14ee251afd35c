"""Synthetic Intel-Lab-shaped data: healthy shape, natural battery failure, labelled faults, file quirks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flead.data.intel_lab import STUCK_HUMIDITY, STUCK_TEMPERATURE
from flead.data.records import CHANNELS, Readings
from flead.data.synth_faults import FAULT_TYPES, FaultEvent, inject_faults
from flead.data.synth_format import format_files
from flead.data.synth_shape import LIFETIME_SECONDS, healthy_signals, quantise, round_sig6
from flead.data.synth_shape import voltage_curve as _voltage_curve

__all__ = ["FAULT_TYPES", "START", "SynthData", "generate"]

START = 1077926400  # 2004-02-28 00:00:00, the lab's wall clock read as UTC
PERIOD = 31.0  # seconds between sampling rounds
DROP_ROUND = 0.08  # probability a round is missed (a ~62 s gap)
BLANK_LIGHT = 0.04  # healthy rows whose light field is empty
WARMUP = 0.1  # fraction of the span kept free of injected faults
FAULT_RATE = 0.012  # fraction of rows inside an injected fault event
MAX_DAYS = 40.0


@dataclass(frozen=True)
class SynthData:
    """Generated readings (time-sorted, labels and faults attached) and what it takes to write them."""

    readings: Readings
    epoch: np.ndarray  # int64 per row, the mote's sampling counter (wraps, resets)
    digits: np.ndarray  # int8 per row, fractional digits of seconds as written
    events: list[FaultEvent] = field(default_factory=list)
    seed: int = 0

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        """Write `data.txt` (exact Intel Lab format, unsorted, with quirks) and `labels.csv`."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        data_text, labels_text = format_files(self.readings, self.epoch, self.digits, self.seed)
        data_path, labels_path = out / "data.txt", out / "labels.csv"
        data_path.write_text(data_text, encoding="utf-8")
        labels_path.write_text(labels_text, encoding="utf-8")
        return data_path, labels_path


def _validate(devices: int, days: float) -> None:
    if not 1 <= devices <= 54:
        raise ValueError(f"devices must be between 1 and 54 (Intel Lab mote ids), got {devices}")
    if not 0.0 < days <= MAX_DAYS:
        raise ValueError(f"days must be > 0 and <= {MAX_DAYS:g}, got {days:g}")


def _life_start(
    rng: np.random.Generator, devices: int, days: float, threshold: np.ndarray
) -> np.ndarray:
    """Where on its battery life (0..1) each mote starts, so pooled voltage covers the whole life.

    No mote fails during the warm-up; a mote that reaches the end of its life gets a new battery.
    """
    span = days * 86400.0 / LIFETIME_SECONDS
    u0 = (rng.permutation(devices) + rng.random(devices)) / devices  # strata: even cover of [0, 1)
    grid = np.linspace(0.0, 1.5, 3001)
    u_fail = np.interp(-threshold, -_voltage_curve(grid), grid)  # curve is decreasing
    return np.clip(u0, 0.0, np.maximum(u_fail - WARMUP * span - 1e-3, 0.0))


def generate(seed: int = 0, devices: int = 54, days: float = 3.0, faults: bool = True) -> SynthData:
    """Generate `days` of readings of motes 1..`devices`, deterministic by `seed`.

    Rows below a mote's failure voltage carry the stuck values (label 1, "natural_stuck");
    with `faults`, labelled events of FAULT_TYPES hit random motes and channels after the warm-up.
    """
    _validate(devices, days)
    rng = np.random.default_rng(seed)
    rounds = max(int(days * 86400.0 / PERIOD), 1)
    phase = rng.uniform(0.0, PERIOD, (devices, 1))
    seconds = phase + np.arange(rounds) * PERIOD + rng.normal(0.0, 0.3, (devices, rounds))
    seconds = np.maximum(seconds, 0.0)
    kept = (rng.random((devices, rounds)) >= DROP_ROUND) & (seconds < days * 86400.0)

    threshold = rng.uniform(2.25, 2.30, devices)
    values, volt0 = healthy_signals(rng, seconds, _life_start(rng, devices, days, threshold))
    stuck_t = volt0 < threshold[:, None]
    stuck_h = volt0 < threshold[:, None] - 0.02
    values[..., 0][stuck_t] = STUCK_TEMPERATURE
    values[..., 1][stuck_h] = STUCK_HUMIDITY
    label = stuck_t.astype(np.int8)
    fault = np.where(stuck_t, "natural_stuck", "").astype(object)
    events: list[FaultEvent] = []
    if faults:
        warmup = seconds < WARMUP * days * 86400.0
        events = inject_faults(rng, values, label, fault, kept, warmup, FAULT_RATE)
    values = round_sig6(quantise(values))
    blank = (rng.random((devices, rounds)) < BLANK_LIGHT) & (label == 0)
    values[..., 2][blank] = np.nan

    epoch = (rng.integers(0, 65536, (devices, 1)) + np.arange(rounds)) % 65536
    for mote in np.flatnonzero(rng.random(devices) < 0.2):  # reboots reset the counter
        at = int(rng.integers(rounds))
        epoch[mote, at:] = np.arange(rounds - at)
    digits = rng.choice(7, size=(devices, rounds), p=[0.003, 0.007, 0.01, 0.03, 0.15, 0.5, 0.3])
    micros = np.round(seconds * 1e6).astype(np.int64)
    cut = 10 ** (6 - digits.astype(np.int64))
    micros = micros // cut * cut

    mote_idx, round_idx = np.nonzero(kept)
    time = START + micros[mote_idx, round_idx] / 1e6
    order = np.lexsort((mote_idx, time))
    pick = (mote_idx[order], round_idx[order])
    readings = Readings(
        device=np.array([str(i + 1) for i in pick[0]], dtype=object),
        time=time[order],
        values=values[pick].astype(np.float32),
        features=CHANNELS,
        label=label[pick],
        fault=fault[pick],
    )
    return SynthData(
        readings, epoch[pick].astype(np.int64), digits[pick].astype(np.int8), events, seed
    )
