"""Label-free alarm thresholds: per-device decayed histograms of log scores and their quantiles."""

from __future__ import annotations

import numpy as np

__all__ = ["BINS", "LOG_HI", "LOG_LO", "add_scores", "bin_of", "quantile"]

LOG_LO, LOG_HI, BINS = -9.0, 15.0, 192
_WIDTH = (LOG_HI - LOG_LO) / BINS


def bin_of(score: np.ndarray) -> np.ndarray:
    """Histogram bin of each score (log scale, clamped to the range)."""
    logs = np.log(np.maximum(score, 1e-30))
    return np.clip(((logs - LOG_LO) / _WIDTH).astype(np.int64), 0, BINS - 1)


def add_scores(
    hist: np.ndarray, group: np.ndarray, score: np.ndarray, counts: np.ndarray, decay: float
) -> np.ndarray:
    """New histograms [G, BINS]: old ones decayed by decay**rows-seen, plus this batch's scores.

    `group` [k] is the row index into `hist` of each score, `counts` [G] the rows each group saw.
    """
    g = hist.shape[0]
    added = np.bincount(group * BINS + bin_of(score), minlength=g * BINS).reshape(g, BINS)
    return hist * (decay ** counts.astype(np.float64))[:, None] + added


def quantile(hist: np.ndarray, q: float) -> np.ndarray:
    """Upper edge (score units) of the bin holding each histogram's q-quantile; inf when empty."""
    cum = np.cumsum(hist, axis=1)
    total = cum[:, -1:]
    idx = np.argmax(cum >= q * total, axis=1)
    edge = np.exp(LOG_LO + (idx + 1) * _WIDTH)
    return np.where(total[:, 0] > 0, edge, np.inf)
