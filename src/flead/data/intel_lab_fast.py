"""Vectorised parsing of a block of Intel Lab lines; anything unusual goes through `parse_line`."""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import numpy as np

from flead.data.intel_lab_line import ParsedRow, Rejected, day_seconds, parse_line

__all__ = ["Block", "parse_block"]

_MOTE = {str(i): i for i in range(1, 55)}


class Block(NamedTuple):
    """Parsed rows of a block (line index, mote, unix time, 4 values) and rejects per reason."""

    line: np.ndarray
    mote: np.ndarray
    time: np.ndarray
    values: np.ndarray
    rejected: Counter[str]


def _clock_seconds(clocks: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole-minute seconds, seconds within the minute, and a mask of strict `HH:MM:SS[.f]` clocks.

    Fractions are computed as (SS * 10**d + f) / 10**d: one correctly rounded division, the same
    double as Python's float("SS.f").
    """
    arr = np.array(clocks)
    width = max(arr.dtype.itemsize // 4, 1)
    codes = arr.view(np.uint32).reshape(len(arr), width)
    if width < 10:
        codes = np.pad(codes, ((0, 0), (0, 10 - width)))
    codes = codes.astype(np.int64)
    digit = (codes >= 48) & (codes <= 57)
    num = np.where(digit, codes - 48, 0)
    frac_digit, frac_zero = digit[:, 9:], codes[:, 9:] == 0
    places = frac_digit.sum(axis=1)
    ok = digit[:, [0, 1, 3, 4, 6, 7]].all(axis=1) & (codes[:, 2] == 58) & (codes[:, 5] == 58)
    no_frac = (codes[:, 8] == 0) & frac_zero.all(axis=1)
    frac_ok = (
        (codes[:, 8] == 46) & (places >= 1) & (places <= 9) & (frac_digit | frac_zero).all(axis=1)
    )
    frac_ok &= (np.diff(frac_digit.astype(np.int8), axis=1) <= 0).all(
        axis=1
    )  # digits, then padding
    ok &= no_frac | frac_ok
    places = np.where(frac_ok, places, 0)
    power = 10 ** np.clip(places[:, None] - 1 - np.arange(codes.shape[1] - 9), 0, None)
    frac = (np.where(frac_digit, num[:, 9:], 0) * power).sum(axis=1)
    scale = 10**places
    hours = num[:, 0] * 10 + num[:, 1]
    minutes = num[:, 3] * 10 + num[:, 4]
    seconds = ((num[:, 6] * 10 + num[:, 7]) * scale + frac) / scale
    ok &= (hours < 24) & (minutes < 60)
    return (hours * 3600 + minutes * 60).astype(np.float64), seconds, ok


def _fast(lines: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows that are plainly well-formed, parsed column-wise: (line index, mote, time, values).

    A row qualifies with 8 fields, a known mote id, a valid date, a strict HH:MM:SS[.f] clock,
    a digit-only or empty epoch and finite numbers (empty = NaN, not all empty). The numbers are
    exactly what `parse_line` computes for the same row.
    """
    if not lines:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty((0, 4))
    counts = np.array([ln.count(" ") for ln in lines], dtype=np.int64)
    text = "".join(lines) if lines[-1].endswith("\n") else "".join(lines) + "\n"
    fields = np.array(text.replace("\r\n", "\n").replace("\n", " ").split(" "), dtype=object)
    starts = np.concatenate([[0], np.cumsum(counts + 1)[:-1]])
    base = starts[counts == 7]
    cand = np.flatnonzero(counts == 7)
    if not len(cand):
        return cand, np.empty(0, np.int64), np.empty(0), np.empty((0, 4))
    dates, clocks, epochs, motes = (fields[base + j].tolist() for j in range(4))
    days = {d: day_seconds(d) if len(d) == 10 else None for d in set(dates)}
    day = np.array([days[d] for d in dates], dtype=np.float64)  # None -> NaN
    mote = np.array([_MOTE.get(m, 0) for m in motes], dtype=np.int64)
    epoch_ok = np.array([not e or e.isdigit() for e in epochs], dtype=bool)
    clock, seconds, clock_ok = _clock_seconds(clocks)
    raw = fields[base[:, None] + np.arange(4, 8)]
    empty = raw == ""
    raw[empty] = "nan"
    values = raw.astype(np.float64)
    time = day + clock + seconds
    good = (
        clock_ok[: len(cand)]
        & epoch_ok
        & (mote > 0)
        & ~np.isnan(day)
        & (seconds[: len(cand)] < 61.0)
    )
    good &= (np.isfinite(values) | empty).all(axis=1) & ~empty.all(axis=1)
    return cand[good], mote[good], time[good], values[good]


def parse_block(lines: list[str], first_line: int = 0) -> Block:
    """Parse `lines` (numbered from `first_line`); the result equals `parse_line` on each line."""
    rejected: Counter[str] = Counter()
    try:
        idx, mote, time, values = _fast(lines)
    except (ValueError, TypeError, OverflowError):  # an odd number somewhere: do it line by line
        idx, mote, time, values = (np.empty(0, np.int64), np.empty(0, np.int64),
                                   np.empty(0), np.empty((0, 4)))  # fmt: skip
    done = np.zeros(len(lines), dtype=bool)
    done[idx] = True
    extra: list[tuple[int, ParsedRow]] = []
    for i in np.flatnonzero(~done).tolist():
        row = parse_line(lines[i])
        if isinstance(row, Rejected):
            rejected[row.reason] += 1
        else:
            extra.append((i, row))
    if extra:
        idx = np.concatenate([idx, [i for i, _ in extra]])
        mote = np.concatenate([mote, [r.mote for _, r in extra]])
        time = np.concatenate([time, [r.time for _, r in extra]])
        values = np.concatenate([values, np.array([r.values for _, r in extra], dtype=np.float64)])
    return Block(idx.astype(np.int64) + first_line, mote.astype(np.int64), time, values, rejected)
