"""Anomaly score of each row: the largest per-channel surprise among the kinds of evidence."""

from __future__ import annotations

import numpy as np

__all__ = ["KINDS", "components", "reduce"]

KINDS = ("forecast", "level", "stuck", "missing", "hold")  # hold: flead.model.hold


def components(
    resid: np.ndarray,
    rvar: np.ndarray,
    y: np.ndarray,
    level_k: float,
    run_same: np.ndarray,
    p_same: np.ndarray,
    run_miss: np.ndarray,
    p_miss: np.ndarray,
    valid: np.ndarray,
    weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0),
) -> np.ndarray:
    """[4, n, F] surprises (KINDS order); missing channels only carry the `missing` kind.

    forecast: squared standardised forecast residual; level: squared normalised value over
    level_k**2; stuck: run of repeats times -log P(repeat); missing: run of gaps times -log P(gap).
    """
    out = np.zeros((4, *resid.shape), dtype=np.float32)
    out[0] = weights[0] * resid * resid / rvar
    out[1] = weights[1] * np.square(np.nan_to_num(y) / level_k)
    out[2] = weights[2] * run_same * -np.log(p_same)
    out[:3] *= valid
    out[3] = np.where(valid, 0.0, weights[3] * run_miss * -np.log(p_miss))
    return out


def reduce(comp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score [n], kind index [n], channel index [n]) of the largest component of each row."""
    k, n, f = comp.shape
    flat = comp.transpose(1, 0, 2).reshape(n, k * f)
    best = np.argmax(flat, axis=1)
    score = flat[np.arange(n), best]
    return score, (best // f).astype(np.int8), (best % f).astype(np.int8)
