"""Write synthetic readings in the exact Intel Lab `data.txt` format, quirks included, plus labels.csv."""

from __future__ import annotations

from datetime import date

import numpy as np

from flead.data.records import Readings

__all__ = ["LABELS_HEADER", "format_files", "junk_counts"]

LABELS_HEADER = "moteid,date,time,label,fault"
_START_DAY = 12467  # days from 1970-01-01 to 2004-02-28
CHUNK = 2048  # lines per block when shuffling the file order


def junk_counts(rows: int) -> dict[str, int]:
    """How many unusable lines `format_files` adds to a file of `rows` valid lines, per reject reason."""
    return {
        "short_row": max(1, rows // 5000),
        "mote_out_of_range": max(1, rows // 250),
        "duplicate": max(1, rows // 5000),
    }


def _timestamps(time: np.ndarray, digits: np.ndarray) -> tuple[list[str], list[str]]:
    """Date and clock strings; seconds carry `digits` fractional digits (none when 0)."""
    micros = np.round((time - _START_DAY * 86400.0) * 1e6).astype(np.int64)
    day = micros // 86_400_000_000 + _START_DAY
    of_day = micros % 86_400_000_000
    secs = of_day // 1_000_000
    frac = (of_day % 1_000_000) // 10 ** (6 - digits.astype(np.int64))
    names = {d: date.fromordinal(d + 719163).isoformat() for d in np.unique(day).tolist()}
    dates = [names[d] for d in day.tolist()]
    clocks = [
        f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" + (f".{f:0{n}d}" if n else "")
        for s, f, n in zip(secs.tolist(), frac.tolist(), digits.tolist(), strict=True)
    ]
    return dates, clocks


def _value_strings(values: np.ndarray) -> list[list[str]]:
    """Each column as `%.6g` strings, an empty string for a missing value."""
    columns = []
    for c in range(values.shape[1]):
        columns.append(["" if x != x else f"{x:.6g}" for x in values[:, c].tolist()])
    return columns


def format_files(
    readings: Readings, epoch: np.ndarray, digits: np.ndarray, seed: int
) -> tuple[str, str]:
    """The text of `data.txt` (block-shuffled, with short rows, foreign motes and duplicates) and labels.csv."""
    if readings.label is None or readings.fault is None:
        raise ValueError("synthetic readings must carry labels and faults")
    rng = np.random.default_rng([seed, 7])
    dates, clocks = _timestamps(readings.time, digits)
    t, h, li, v = _value_strings(readings.values)
    motes = readings.device.tolist()
    epochs = epoch.tolist()
    lines = [
        f"{dates[i]} {clocks[i]} {epochs[i]} {motes[i]} {t[i]} {h[i]} {li[i]} {v[i]}"
        for i in range(len(readings))
    ]
    labels = [LABELS_HEADER] + [
        f"{m},{d},{c},{lab},{f}"
        for m, d, c, lab, f in zip(
            motes, dates, clocks, readings.label.tolist(), readings.fault.tolist(), strict=True
        )
    ]
    n = len(lines)
    counts = junk_counts(n)
    junk: list[str] = []
    for i in rng.integers(0, n, counts["short_row"]).tolist():
        junk.append(f"{dates[i]} {clocks[i]} {epochs[i]}")
    for i in rng.integers(0, n, counts["mote_out_of_range"]).tolist():
        foreign = int(rng.choice([55, 56, 58]))
        junk.append(f"{dates[i]} {clocks[i]} {epochs[i]} {foreign} {t[i]} {h[i]} {li[i]} {v[i]}")
    junk.extend(lines[i] for i in rng.integers(0, n, counts["duplicate"]).tolist())
    blocks = rng.permutation((n + CHUNK - 1) // CHUNK)
    shuffled = [line for b in blocks.tolist() for line in lines[b * CHUNK : (b + 1) * CHUNK]]
    keys = np.concatenate([np.arange(n, dtype=np.float64), rng.uniform(0, n, len(junk))])
    everything = shuffled + junk
    text = "\n".join(everything[k] for k in np.argsort(keys, kind="stable").tolist())
    return text + "\n", "\n".join(labels) + "\n"
