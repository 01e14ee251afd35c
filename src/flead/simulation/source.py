"""Where `flead simulate` gets its readings (synthetic, Intel Lab file, CSV) and which rows it scores."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flead.data.csv_source import read_csv
from flead.data.intel_lab import read_intel_lab
from flead.data.records import Readings, ReadStats
from flead.data.synth import generate

__all__ = ["Source", "load", "scored_mask"]


@dataclass(frozen=True)
class Source:
    """One data source: synthetic (no path), an Intel Lab file, or a CSV (device column given)."""

    seed: int = 0
    devices: int = 54
    days: float = 2.0
    intel_lab: Path | None = None
    labels: Path | None = None
    csv: Path | None = None
    device_column: str | None = None
    label_column: str | None = None
    time_column: str | None = None
    features: Sequence[str] | None = None

    def describe(self) -> str:
        """One line naming the data, for the terminal and the report."""
        if self.intel_lab:
            return f"Intel Lab file {self.intel_lab}" + (
                f" (labels {self.labels})" if self.labels else ""
            )
        if self.csv:
            return f"CSV {self.csv} (device column {self.device_column!r})"
        return f"synthetic Intel-Lab-shaped data, seed {self.seed}, {self.devices} devices, {self.days:g} days"


def _file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ValueError(f"{path}: no such {what} file")
    return path


def load(
    src: Source, progress: Callable[[float], None] | None = None
) -> tuple[Readings, ReadStats]:
    """Time-sorted readings and what the reader made of its input; ValueError on unusable input."""
    if src.intel_lab:
        labels = _file(src.labels, "labels") if src.labels else None
        readings, stats = read_intel_lab(_file(src.intel_lab, "data"), labels, progress=progress)
    elif src.csv:
        if not src.device_column:
            raise ValueError("--csv needs --device-column (the column naming each row's device)")
        readings, stats = read_csv(
            _file(src.csv, "CSV"),
            src.device_column,
            src.label_column,
            src.time_column,
            src.features,
        )
    else:
        readings = generate(seed=src.seed, devices=src.devices, days=src.days).readings
        stats = ReadStats(rows_total=len(readings), rows_valid=len(readings))
    if len(readings) == 0:
        raise ValueError(f"{src.describe()}: no valid rows to stream")
    if readings.label is None:
        raise ValueError(f"{src.describe()}: no ground-truth labels, nothing to evaluate against")
    if np.any(np.diff(readings.time) < 0):
        readings = readings.sorted_by_time()
    return readings, stats


def scored_mask(device: np.ndarray, fraction: float) -> np.ndarray:
    """True on the rows that are scored: all but the first `fraction` of each device's rows."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"warm-up fraction must be in [0, 1), got {fraction:g}")
    _, codes = np.unique(np.asarray(device).astype(str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - np.repeat(starts, counts)
    return np.asarray(rank >= np.ceil(fraction * counts[codes]))
