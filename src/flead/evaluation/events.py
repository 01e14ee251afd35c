"""Contiguous runs (events, alarm episodes) of a row mask within each device's time-ordered rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Runs", "device_order", "runs"]


@dataclass(frozen=True)
class Runs:
    """Runs of consecutive True rows of one device: [start, stop) in device-ordered row positions."""

    start: np.ndarray  # int64 [k]
    stop: np.ndarray  # int64 [k], exclusive

    def __len__(self) -> int:
        return len(self.start)

    def hits(self, mask: np.ndarray) -> np.ndarray:
        """Per run: does `mask` hold on at least one of its rows?"""
        if not len(self):
            return np.zeros(0, dtype=bool)
        csum = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
        return np.asarray(csum[self.stop] - csum[self.start] > 0)

    def first(self, mask: np.ndarray) -> np.ndarray:
        """Per run: position of its first row where `mask` holds, -1 if none."""
        out = np.full(len(self), -1, dtype=np.int64)
        where = np.flatnonzero(mask)
        if not len(where):
            return out
        idx = np.searchsorted(where, self.start)
        ok = idx < len(where)
        ok[ok] = where[idx[ok]] < self.stop[ok]
        out[ok] = where[idx[ok]]
        return out


def device_order(device: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Row order that groups rows by device, each device's rows by time (stable)."""
    return np.lexsort((time, np.asarray(device).astype(str)))


def runs(codes: np.ndarray, mask: np.ndarray, kind: np.ndarray | None = None) -> Runs:
    """Runs of True in `mask`; a run also breaks where `codes` (device) or `kind` (fault) changes.

    All arrays are in device order (see `device_order`).
    """
    mask = np.asarray(mask, dtype=bool)
    n = len(mask)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Runs(empty, empty.copy())
    brk = np.ones(n, dtype=bool)
    brk[1:] = codes[1:] != codes[:-1]
    if kind is not None:
        brk[1:] |= kind[1:] != kind[:-1]
    begin = mask & (brk | ~np.concatenate(([False], mask[:-1])))
    end = np.zeros(n, dtype=bool)  # row i ends a run if the next row does not continue it
    end[:-1] = mask[:-1] & (~mask[1:] | brk[1:])
    end[-1] = mask[-1]
    return Runs(np.flatnonzero(begin).astype(np.int64), np.flatnonzero(end).astype(np.int64) + 1)
