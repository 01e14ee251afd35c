"""Reader of the Intel Berkeley Lab `data.txt[.gz]` that survives every quirk of the real file."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from flead.data.intel_lab_fast import parse_block
from flead.data.intel_lab_line import (
    FIELDS,
    MOTE_IDS,
    ParsedRow,
    Rejected,
    parse_line,
    parse_timestamp,
)
from flead.data.records import CHANNELS, Readings, ReadStats

__all__ = [
    "FIELDS",
    "MOTE_IDS",
    "STUCK_HUMIDITY",
    "STUCK_TEMPERATURE",
    "ParsedRow",
    "Rejected",
    "natural_stuck",
    "parse_line",
    "parse_timestamp",
    "read_intel_lab",
]

STUCK_TEMPERATURE = 122.153
STUCK_HUMIDITY = -3.91901
PLAUSIBLE_TEMPERATURE = (-10.0, 60.0)
BLOCK_BYTES = 4 << 20  # ~65k lines per block
_IDS = np.array([str(i) for i in range(55)], dtype=object)


def natural_stuck(values: np.ndarray) -> np.ndarray:
    """Rows showing the battery-failure signature: stuck 122.153 / -3.91901 or implausible temperature."""
    temperature = values[:, 0].astype(np.float64)
    humidity = values[:, 1].astype(np.float64)
    low, high = PLAUSIBLE_TEMPERATURE
    stuck = np.isclose(temperature, STUCK_TEMPERATURE, atol=5e-4)
    stuck |= np.isclose(humidity, STUCK_HUMIDITY, atol=5e-5)
    stuck |= (temperature < low) | (temperature > high)
    return np.asarray(stuck, dtype=bool)


def _blocks(path: Path, progress: Callable[[float], None] | None) -> Iterator[list[str]]:
    """Blocks of lines of `path` (plain or gzip), reporting the fraction of file bytes consumed."""
    size = max(path.stat().st_size, 1)
    with path.open("rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        binary: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw  # type: ignore[assignment]
        with io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="\n") as stream:
            while block := stream.readlines(BLOCK_BYTES):
                if progress is not None:
                    progress(min(raw.tell() / size, 1.0))
                yield block
    if progress is not None:
        progress(1.0)


def _read_labels(path: Path) -> dict[tuple[int, float], tuple[int, str]]:
    """The labels file written beside a synthetic `data.txt`: moteid,date,time,label,fault."""
    out: dict[tuple[int, float], tuple[int, str]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != ["moteid", "date", "time", "label", "fault"]:
            raise ValueError(f"{path}: expected header moteid,date,time,label,fault, got {header}")
        for lineno, row in enumerate(reader, start=2):
            time = parse_timestamp(row[1], row[2]) if len(row) == 5 else None
            if time is None or not row[0].isdigit() or row[3] not in ("0", "1"):
                raise ValueError(f"{path}:{lineno}: malformed label row {','.join(row)!r}")
            out[(int(row[0]), time)] = (int(row[3]), row[4])
    return out


def read_intel_lab(
    path: str | Path,
    labels_path: str | Path | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[Readings, ReadStats]:
    """Read `data.txt` or `data.txt.gz` into time-sorted Readings; count every rejected line.

    Without `labels_path` the free label of the real file is used: rows with the natural
    battery-failure signature get label 1 and fault "natural_stuck". With it, every valid
    row must have an entry (key: mote id and timestamp).
    """
    path = Path(path)
    stats = ReadStats()
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for block in _blocks(path, progress):
        parsed = parse_block(block, stats.rows_total)
        stats.rows_total += len(block)
        for reason, count in parsed.rejected.items():
            stats.reject(reason, count)
        parts.append((parsed.line, parsed.mote, parsed.time, parsed.values))
    line_arr = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
    mote_arr = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
    time_arr = np.concatenate([p[2] for p in parts]) if parts else np.empty(0)
    value_arr = np.concatenate([p[3] for p in parts]) if parts else np.empty((0, len(CHANNELS)))
    order = np.lexsort((line_arr, mote_arr, time_arr))  # of duplicates the first line is kept
    mote_arr, time_arr, value_arr = mote_arr[order], time_arr[order], value_arr[order]
    dup = np.zeros(len(order), dtype=bool)
    dup[1:] = (mote_arr[1:] == mote_arr[:-1]) & (time_arr[1:] == time_arr[:-1])
    stats.reject("duplicate", int(dup.sum()))
    keep = ~dup
    mote_arr, time_arr, value_arr = mote_arr[keep], time_arr[keep], value_arr[keep]
    stats.rows_valid = len(mote_arr)
    if labels_path is None:
        stuck = natural_stuck(value_arr)
        label = stuck.astype(np.int8)
        fault = np.where(stuck, "natural_stuck", "").astype(object)
    else:
        label, fault = _join_labels(Path(labels_path), mote_arr, time_arr)
    readings = Readings(
        device=_IDS[mote_arr],
        time=time_arr,
        values=value_arr.astype(np.float32),
        features=CHANNELS,
        label=label,
        fault=fault,
    )
    return readings, stats


def _join_labels(path: Path, motes: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label and fault of every row from the labels file; a row without an entry is an error."""
    table = _read_labels(path)
    label = np.zeros(len(motes), dtype=np.int8)
    fault = np.full(len(motes), "", dtype=object)
    missing = 0
    first: tuple[int, float] | None = None
    for i, key in enumerate(zip(motes.tolist(), times.tolist(), strict=True)):
        entry = table.get(key)
        if entry is None:
            missing += 1
            first = first or key
            continue
        label[i], fault[i] = entry
    if missing:
        raise ValueError(
            f"{path}: no label for {missing} rows of the data (first: mote {first[0] if first else '?'}"
            f" at unix time {first[1] if first else '?'})"
        )
    return label, fault
