"""Bring-your-own CSV: a device column, optional time and 0/1 label columns, numeric features."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from flead.data.records import Readings, ReadStats

__all__ = ["numeric_columns", "parse_time", "read_csv"]


def parse_time(text: str) -> float | None:
    """Unix seconds from numeric seconds or an ISO 8601 datetime (naive = UTC); None if neither."""
    try:
        value = float(text)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(text.strip())
        except ValueError:
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.timestamp()
    return value if math.isfinite(value) else None


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def numeric_columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns where at least half of the non-empty cells are finite numbers."""
    out = []
    for j, name in enumerate(header):
        cells = [row[j] for row in rows if j < len(row) and row[j].strip()]
        if cells and sum(_is_number(c) for c in cells) * 2 >= len(cells):
            out.append(name)
    return out


def _column(header: list[str], name: str, path: Path) -> int:
    if name not in header:
        raise ValueError(f"{path}: no column {name!r}; columns are {', '.join(header)}")
    return header.index(name)


def read_csv(
    path: str | Path,
    device_column: str,
    label_column: str | None = None,
    time_column: str | None = None,
    features: Sequence[str] | None = None,
) -> tuple[Readings, ReadStats]:
    """Read a CSV with a header row into Readings sorted by time; bad rows are counted per reason.

    Features default to every numeric column except the device, time and label columns. Empty
    feature cells are missing values (NaN); without a time column, time is the row index.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path}: empty file, expected a header row")
        rows = list(reader)
    header = [h.strip() for h in header]
    dev_j = _column(header, device_column, path)
    time_j = _column(header, time_column, path) if time_column else None
    label_j = _column(header, label_column, path) if label_column else None
    reserved = {device_column, time_column, label_column}
    if features is None:
        features = [c for c in numeric_columns(header, rows) if c not in reserved]
    if not features:
        raise ValueError(f"{path}: no numeric feature columns besides {device_column!r}")
    feat_j = [_column(header, f, path) for f in features]
    stats = ReadStats(rows_total=len(rows))
    devices: list[str] = []
    times: list[float] = []
    values: list[list[float]] = []
    labels: list[int] = []
    for i, row in enumerate(rows):
        reason, parsed = _parse_row(row, len(header), dev_j, time_j, label_j, feat_j, i)
        if reason:
            stats.reject(reason)
            continue
        device, time, vals, label = parsed
        devices.append(device)
        times.append(time)
        values.append(vals)
        labels.append(label)
    return _assemble(devices, times, values, labels, tuple(features), label_j is not None, stats)


def _parse_row(
    row: list[str],
    width: int,
    dev_j: int,
    time_j: int | None,
    label_j: int | None,
    feat_j: list[int],
    index: int,
) -> tuple[str, tuple[str, float, list[float], int]]:
    """("", parsed) for a usable row, (reason, dummy) otherwise."""
    dummy: tuple[str, float, list[float], int] = ("", 0.0, [], 0)
    if len(row) != width:
        return ("empty_line" if not any(c.strip() for c in row) else "bad_field_count"), dummy
    device = row[dev_j].strip()
    if not device:
        return "missing_device", dummy
    time = float(index) if time_j is None else parse_time(row[time_j])
    if time is None:
        return "bad_time", dummy
    label = 0
    if label_j is not None:
        text = row[label_j].strip()
        if text not in ("0", "1", "0.0", "1.0"):
            return "bad_label", dummy
        label = int(float(text))
    vals: list[float] = []
    for j in feat_j:
        text = row[j].strip()
        if not text:
            vals.append(math.nan)
        elif _is_number(text):
            vals.append(float(text))
        else:
            return "bad_number", dummy
    if all(math.isnan(v) for v in vals):
        return "no_values", dummy
    return "", (device, time, vals, label)


def _assemble(
    devices: list[str],
    times: list[float],
    values: list[list[float]],
    labels: list[int],
    features: tuple[str, ...],
    labelled: bool,
    stats: ReadStats,
) -> tuple[Readings, ReadStats]:
    """Readings sorted by (time, device) with duplicates of (device, time) rejected."""
    device = np.array(devices, dtype=object)
    time = np.array(times, dtype=np.float64)
    order = np.lexsort((device.astype(str), time)) if len(device) else np.arange(0)
    device, time = device[order], time[order]
    dup = np.zeros(len(order), dtype=bool)
    dup[1:] = (device[1:] == device[:-1]) & (time[1:] == time[:-1])
    stats.reject("duplicate", int(dup.sum()))
    keep = order[~dup]
    stats.rows_valid = len(keep)
    value_arr = np.array(values, dtype=np.float32).reshape(-1, len(features))[keep]
    label = np.array(labels, dtype=np.int8)[keep] if labelled else None
    fault = np.where(label == 1, "anomaly", "").astype(object) if label is not None else None
    readings = Readings(device[~dup], time[~dup], value_arr, features, label, fault)
    return readings, stats
