"""Threshold-free ranking metrics in numpy: AUC-PR (average precision) and AUC-ROC."""

from __future__ import annotations

import numpy as np

__all__ = ["Ranked", "auc_pr", "auc_roc", "finite"]


def finite(score: np.ndarray) -> np.ndarray:
    """Scores as float64 with +inf above every finite score and NaN/-inf below all of them."""
    s = np.asarray(score, dtype=np.float64)
    ok = np.isfinite(s)
    if ok.all():
        return s
    top = float(s[ok].max()) if ok.any() else 0.0
    low = float(s[ok].min()) if ok.any() else 0.0
    return np.where(ok, s, np.where(s == np.inf, top + 1.0, low - 1.0))


def _both(label: np.ndarray) -> tuple[np.ndarray, bool]:
    y = np.asarray(label).astype(bool)
    return y, bool(y.any() and not y.all())


def _ap_sorted(y: np.ndarray, s: np.ndarray) -> float | None:
    """Average precision of labels `y` given in descending order of their scores `s`."""
    if not y.any():
        return None
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True))  # last row of each distinct score
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall_gain = np.diff(np.concatenate(([0], tp))) / tp[-1]
    return float(np.sum(recall_gain * precision))


def auc_pr(label: np.ndarray, score: np.ndarray) -> float | None:
    """Average precision (sum over distinct thresholds of recall gain x precision), as scikit-learn.

    None when there is no positive row: the metric is undefined.
    """
    y = np.asarray(label).astype(bool)
    if not y.any():
        return None
    return Ranked.of(score).auc_pr(y)


class Ranked:
    """Scores sorted once (descending); AUC-PR of any subset of rows without sorting again."""

    def __init__(self, order: np.ndarray, sorted_score: np.ndarray) -> None:
        self.order, self.sorted = order, sorted_score

    @staticmethod
    def of(score: np.ndarray) -> Ranked:
        s = finite(score)
        order = np.argsort(-s, kind="mergesort")
        return Ranked(order, s[order])

    def auc_pr(self, label: np.ndarray, rows: np.ndarray | None = None) -> float | None:
        """`auc_pr(label[rows], score[rows])` (all rows when `rows` is None): O(n), no sort."""
        y = np.asarray(label, dtype=bool)[self.order]
        if rows is None:
            return _ap_sorted(y, self.sorted)
        keep = np.asarray(rows, dtype=bool)[self.order]
        return _ap_sorted(y[keep], self.sorted[keep])


def auc_roc(label: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U, ties count half). None without both classes."""
    y, ok = _both(label)
    if not ok:
        return None
    s = finite(score)
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    first = np.flatnonzero(np.concatenate(([True], sorted_s[1:] != sorted_s[:-1])))
    bounds = np.append(first, len(s))
    mean_rank = (bounds[:-1] + bounds[1:] + 1) / 2.0  # 1-based average rank of each tie group
    ranks = np.empty(len(s))
    ranks[order] = np.repeat(mean_rank, np.diff(bounds))
    pos = int(y.sum())
    neg = len(y) - pos
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))
