"""Decoding a micro-batch of raw Kafka records into columns, splitting off dead letters with reasons."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import msgspec
import numpy as np

from flead.wire import WireError, parse_reading

__all__ = ["Dead", "Decoded", "Raw", "decode_batch"]

_F32_MAX = float(np.finfo(np.float32).max)
_F64_MAX = sys.float_info.max
# A record longer than this takes flead.wire's path: only a long record can nest deeply enough
# to reach Python's recursion limit or hold an integer past its 4,300-digit limit (both bad_json
# there, skipped silently by msgspec inside an ignored field). Readings are ~170 bytes.
FAST_MAX_BYTES = 1024
_SLOW_BELOW = 8  # a failing chunk this small is decoded record by record with flead.wire
_VALUE = attrgetter("value")
_PARTITION = attrgetter("partition")
_OFFSET = attrgetter("offset")
_DEVICE = attrgetter("device")
_FAILED = (msgspec.MsgspecError, ValueError, TypeError, OverflowError, RecursionError)


class Raw(msgspec.Struct, frozen=True, gc=False):
    """What the trainer needs of one Kafka record (built in C: no Python frame per record)."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Dead(NamedTuple):
    """A record that cannot be processed, and why (a flead.wire reason)."""

    raw: Raw
    reason: str


@dataclass
class Decoded:
    """The valid rows of a batch as columns, plus the dead letters."""

    device: np.ndarray
    time: np.ndarray
    values: np.ndarray
    partition: np.ndarray
    offset: np.ndarray
    dead: list[Dead] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.device)

    def rows(self, keep: np.ndarray) -> Decoded:
        """Only the rows where `keep` is True (dead letters unchanged)."""
        return Decoded(
            self.device[keep],
            self.time[keep],
            self.values[keep],
            self.partition[keep],
            self.offset[keep],
            self.dead,
        )


class _Part(NamedTuple):
    """Decoded rows of part of a batch: record indices, devices, times, values (float64)."""

    idx: np.ndarray
    device: np.ndarray
    time: np.ndarray
    values: np.ndarray


class _Schema:
    """msgspec's typed decoder of one reading for a feature list, and the attribute getters that
    take a decoded batch apart in C: no dict and no Python loop per record or per field."""

    def __init__(self, features: tuple[str, ...]) -> None:
        values = msgspec.defstruct("Values", [(f, float | None, None) for f in features], gc=False)
        reading = msgspec.defstruct(
            "Reading",
            [("device", str | int), ("time", float), ("values", values)],
            gc=False,
        )
        self.decoder = msgspec.json.Decoder(reading)
        self.numbers = attrgetter("time", *(f"values.{f}" for f in features))

    def columns(self, raws: list[bytes | None], start: int) -> tuple[_Part, np.ndarray] | None:
        """The records decoded as columns plus a mask of rows that flead.wire must judge (a
        value at or past float32's edge, an empty device...); None when the chunk holds a record
        this decoder cannot take (then it is split, and single records go to flead.wire)."""
        try:
            if None in raws or max(map(len, raws)) > FAST_MAX_BYTES:  # type: ignore[arg-type]
                return None
            # UTF-8 of whole records, as flead.wire checks (msgspec skips ignored fields
            # unchecked); the separator keeps a sequence cut at one record's end invalid.
            b"\n".join(raws).decode("utf-8")  # type: ignore[arg-type]
            rows = list(map(self.decoder.decode, raws))  # type: ignore[arg-type]
            numbers = list(map(self.numbers, rows))
            try:
                table = np.fromiter(chain.from_iterable(numbers), np.float64)
            except TypeError:  # a null value: NaN, as flead.wire reads it
                obj = np.array(numbers, dtype=object)
                obj[obj == None] = np.nan  # noqa: E711 (elementwise)
                table = obj.astype(np.float64)
            devices = list(map(_DEVICE, rows))
        except _FAILED:
            return None
        table = table.reshape(len(raws), -1)
        time, values = table[:, 0], table[:, 1:]
        # Strict bounds: an integer literal just past a limit rounds onto it here, while
        # flead.wire compares the exact integer, so a value on the limit goes to flead.wire.
        ok = np.abs(time) < _F64_MAX
        ok &= ((np.abs(values) < _F32_MAX) | np.isnan(values)).all(axis=1)
        names = _names(set(devices))
        if names is None:
            return None
        if any(type(d) is not str for d in names) or "" in names:
            column = np.array(list(map(names.__getitem__, devices)), dtype=object)
            ok &= column != ""
        else:
            column = np.array(devices, dtype=object)
        index = np.arange(start, start + len(raws), dtype=np.int64)
        return _Part(index, column, time, values), ~ok


def _names(devices: set[str | int]) -> dict[str | int, str] | None:
    """Each distinct device id as flead.wire names it (an integer as its digits); None when one
    is not valid UTF-8 text. One step per distinct device, not per record."""
    out: dict[str | int, str] = {}
    for d in devices:
        if type(d) is int:
            try:
                out[d] = str(d)
            except ValueError:
                return None
        else:
            assert isinstance(d, str)
            if not d.isascii():
                try:
                    d.encode("utf-8")
                except UnicodeEncodeError:
                    return None
            out[d] = d
    return out


@lru_cache(maxsize=8)
def _schema(features: tuple[str, ...]) -> _Schema:
    return _Schema(features)


def decode_batch(records: Sequence[Raw], features: Sequence[str]) -> Decoded:
    """Decode every record; a record that fails goes to `dead` with its reason, the rest stay in order.

    A chunk of well-formed readings is decoded by msgspec straight into typed structs and taken
    apart into columns in C. Any record msgspec refuses, and any value on a limit, is judged by
    `flead.wire.parse_reading`, the one reading decoder, so the trainer accepts and rejects
    exactly what flead.wire does, with the same reasons (a hypothesis test holds them to it).
    """
    schema = _schema(tuple(features))
    raws: list[bytes | None] = list(map(_VALUE, records))
    parts: list[_Part] = []
    dead: list[tuple[int, Dead]] = []
    _decode(schema, records, raws, 0, len(raws), features, parts, dead, first=True)
    n_features = len(features)
    if len(parts) == 1:
        part = parts[0]
    elif parts:
        part = _Part(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))
        order = np.argsort(part.idx, kind="stable")
        part = _Part(*(col[order] for col in part))
    else:
        part = _Part(
            np.zeros(0, np.int64),
            np.zeros(0, object),
            np.zeros(0, np.float64),
            np.zeros((0, n_features), np.float64),
        )
    partitions = np.fromiter(map(_PARTITION, records), np.int64, len(records))
    offsets = np.fromiter(map(_OFFSET, records), np.int64, len(records))
    dead.sort(key=itemgetter(0))
    return Decoded(
        device=part.device,
        time=part.time,
        values=part.values.astype(np.float32).reshape(len(part.idx), n_features),
        partition=partitions[part.idx],
        offset=offsets[part.idx],
        dead=[d for _, d in dead],
    )


def _decode(
    schema: _Schema,
    records: Sequence[Raw],
    raws: list[bytes | None],
    lo: int,
    hi: int,
    features: Sequence[str],
    parts: list[_Part],
    dead: list[tuple[int, Dead]],
    first: bool = False,
) -> None:
    """Records lo..hi: the fast columns when the chunk allows, else halves, else one by one."""
    if lo >= hi:
        return
    if first or hi - lo > _SLOW_BELOW:
        got = schema.columns(raws[lo:hi], lo)
        if got is None:
            mid = (lo + hi) // 2
            _decode(schema, records, raws, lo, mid, features, parts, dead)
            _decode(schema, records, raws, mid, hi, features, parts, dead)
            return
        part, judge = got
        if not judge.any():
            parts.append(part)
            return
        keep = ~judge
        parts.append(_Part(*(col[keep] for col in part)))
        for i in part.idx[judge].tolist():
            _one(records[i], i, features, parts, dead)
        return
    for i in range(lo, hi):
        _one(records[i], i, features, parts, dead)


def _one(
    r: Raw, i: int, features: Sequence[str], parts: list[_Part], dead: list[tuple[int, Dead]]
) -> None:
    """One record through flead.wire (the reference decoder)."""
    if r.value is None:
        dead.append((i, Dead(r, "empty_value")))
        return
    try:
        reading = parse_reading(r.value, features)
    except WireError as exc:
        dead.append((i, Dead(r, exc.reason)))
        return
    device: Any = np.empty(1, dtype=object)
    device[0] = reading.device
    parts.append(
        _Part(
            np.array([i], dtype=np.int64),
            device,
            np.array([reading.time], dtype=np.float64),
            np.array([reading.values], dtype=np.float64).reshape(1, len(features)),
        )
    )
