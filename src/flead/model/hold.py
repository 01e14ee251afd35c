"""Level hold: after a flagged jump away from the slow baseline, the baseline waits (bounded)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from flead.model.features import segmented_run

__all__ = ["Hold", "accept_lasting", "find_holds", "hold_scores"]


class Hold(NamedTuple):
    """Per row and channel [n, F]: whether the channel is held, and the run state behind it."""

    held: np.ndarray  # bool: judged against the baseline from before the jump
    far_run: np.ndarray  # int64: readings in a row far from the baseline (this one included)
    onsets: np.ndarray  # int64: flagged jumps of one channel alone in that run


def find_holds(
    far: np.ndarray, onset: np.ndarray, valid: np.ndarray, row_start: np.ndarray,
    far_seed: np.ndarray, onset_seed: np.ndarray, max_rows: int,
) -> Hold:  # fmt: skip
    """Which readings are held: far from the baseline, in a run of such readings that began
    with (or contains) a flagged jump, for at most `max_rows` readings of that run.

    A missing reading neither extends nor ends a run; the seeds [n, F] are each device's run
    carried over from earlier micro-batches (segmented scans: no loop over rows or devices).
    """
    end = valid & ~far
    far_run = segmented_run(far, end, row_start, far_seed)
    onsets = segmented_run(onset, end, row_start, onset_seed)
    held = far & (onsets > 0) & (far_run <= max_rows)
    return Hold(held, far_run, onsets)


def hold_scores(
    held: np.ndarray, e_base: np.ndarray, qc: np.ndarray, thr: np.ndarray, rank: float
) -> np.ndarray:
    """[n, F] the score of each held reading: `rank` x its distance from the held baseline in
    units of the channel's score scale, the distance capped at the threshold (`rank` < 1: a
    held reading ranks as suspicious but never raises an alarm by itself). 0 where not held or
    while warming up."""
    live = np.where(np.isfinite(thr), thr, 0.0)[:, None]
    ok = held & (live > 0) & np.isfinite(qc) & np.isfinite(e_base)
    raw = np.where(ok, e_base / np.where(ok, qc, 1.0), 0.0)
    return np.where(ok, rank * np.minimum(raw, live), 0.0).astype(np.float32)


def accept_lasting(
    run: np.ndarray, onsets: np.ndarray, max_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At a batch end, per device [G, F]: (accept, far_run, onsets) to carry on.

    A held run longer than `max_rows` is a lasting change: it is accepted (the caller moves the
    baseline to the current reading) and both counts restart; a run that ended forgets its onsets.
    """
    accept = (onsets > 0) & (run > max_rows)
    return accept, np.where(accept, 0, run), np.where(accept | (run == 0), 0, onsets)
