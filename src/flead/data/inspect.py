"""What a reader made of a file, as a JSON-ready summary (`flead data inspect`)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import numpy as np

from flead.data.records import Readings, ReadStats

__all__ = ["iso_time", "summarize"]


def iso_time(seconds: float) -> str:
    """Unix seconds as an ISO 8601 UTC string with microseconds dropped when zero."""
    stamp = datetime.fromtimestamp(seconds, tz=UTC)
    return stamp.isoformat(timespec="microseconds" if stamp.microsecond else "seconds")


def summarize(readings: Readings, stats: ReadStats) -> dict[str, Any]:
    """rows_total, rows_valid, rows_rejected, devices, time_range, missing; faults when labelled."""
    missing = (
        np.isnan(readings.values).sum(axis=0) if len(readings) else np.zeros(len(readings.features))
    )
    summary: dict[str, Any] = {
        "rows_total": stats.rows_total,
        "rows_valid": stats.rows_valid,
        "rows_rejected": dict(sorted(stats.rows_rejected.items())),
        "devices": len(readings.devices()),
        "time_range": {
            "start": iso_time(float(readings.time.min())) if len(readings) else None,
            "end": iso_time(float(readings.time.max())) if len(readings) else None,
        },
        "missing": {name: int(n) for name, n in zip(readings.features, missing, strict=True)},
        "features": list(readings.features),
    }
    if readings.label is not None and readings.fault is not None:
        faults = Counter(str(f) for f in readings.fault[readings.label == 1])
        summary["labelled_anomalies"] = int(readings.label.sum())
        summary["faults"] = dict(sorted(faults.items()))
    return summary
