"""One line of the Intel Lab `data.txt`: fields split on exactly one space, every quirk a reason."""

from __future__ import annotations

import math
from datetime import date
from typing import NamedTuple

from flead.data.records import CHANNELS

__all__ = [
    "FIELDS",
    "MOTE_IDS",
    "ParsedRow",
    "Rejected",
    "day_seconds",
    "parse_line",
    "parse_timestamp",
]

FIELDS = ("date", "time", "epoch", "moteid", *CHANNELS)
MOTE_IDS = range(1, 55)
_DAY_SECONDS: dict[str, float | None] = {}


class ParsedRow(NamedTuple):
    """One usable line: mote id, unix seconds (lab wall clock read as UTC), epoch, 4 values."""

    mote: int
    time: float
    epoch: int | None
    values: tuple[float, float, float, float]


class Rejected(NamedTuple):
    """A line the reader cannot use, and why."""

    reason: str


def day_seconds(day: str) -> float | None:
    """Unix seconds of midnight of an ISO `YYYY-MM-DD` date, None when it is not one (cached)."""
    if day not in _DAY_SECONDS:
        try:
            if len(day) != 10:
                raise ValueError(day)
            _DAY_SECONDS[day] = float((date.fromisoformat(day).toordinal() - 719163) * 86400)
        except ValueError:
            _DAY_SECONDS[day] = None
    return _DAY_SECONDS[day]


def parse_timestamp(day: str, clock: str) -> float | None:
    """`2004-02-28`, `00:59:16.02785` (any number of fractional digits, or none) -> unix seconds."""
    base = day_seconds(day)
    parts = clock.split(":")
    if base is None or len(parts) != 3 or len(parts[0]) != 2 or len(parts[1]) != 2:
        return None
    try:
        hours, minutes, seconds = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        return None
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0.0 <= seconds < 61.0) or parts[2][:1] == "-":
        return None
    return base + hours * 3600 + minutes * 60 + seconds


def _number(text: str) -> float | None:
    """A finite float, NaN for an empty field (missing value), None when unparseable."""
    if not text:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_line(line: str) -> ParsedRow | Rejected:
    """Parse one line; fields are separated by exactly ONE space and an empty field is missing."""
    fields = line.rstrip("\r\n").split(" ")
    if len(fields) == 1 and not fields[0]:
        return Rejected("empty_line")
    if len(fields) < 4 or (len(fields) == 4 and not fields[3]):
        return Rejected("short_row")
    time = parse_timestamp(fields[0], fields[1])
    if time is None:
        return Rejected("bad_timestamp")
    try:
        mote = int(fields[3])
    except ValueError:
        return Rejected("bad_mote_id")
    if mote not in MOTE_IDS:
        return Rejected("mote_out_of_range")
    if len(fields) < 8:
        return Rejected("short_row")
    if len(fields) > 8:
        return Rejected("too_many_fields")
    epoch: int | None = None
    if fields[2]:
        try:
            epoch = int(fields[2])
        except ValueError:
            return Rejected("bad_number")
    t, h, li, v = (_number(f) for f in fields[4:8])
    if t is None or h is None or li is None or v is None:
        return Rejected("bad_number")
    if math.isnan(t) and math.isnan(h) and math.isnan(li) and math.isnan(v):
        return Rejected("no_values")
    return ParsedRow(mote, time, epoch, (t, h, li, v))
