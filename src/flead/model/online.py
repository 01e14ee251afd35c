"""One prequential micro-batch over many devices: group rows, score, then learn (vectorised)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flead.model import network as nn
from flead.model import normalize as nz
from flead.model import scoring as sc
from flead.model import threshold as th
from flead.model.config import ModelConfig
from flead.model.features import group_rows, previous_observed, segmented_run, time_features

__all__ = ["HOURS", "Batch", "forward", "prepare", "train", "update_stats"]

HOURS = 24  # time-of-day bins of the repeat probability


@dataclass
class Batch:
    """Rows sorted by device slot (stable), with each row's sequential context."""

    order: np.ndarray  # sorted row -> input row
    group: np.ndarray  # sorted row -> group index
    pos: np.ndarray  # sorted row -> position inside its group
    starts: np.ndarray  # group -> first sorted row
    gslot: np.ndarray  # group -> device slot
    x: np.ndarray  # [n, F] values (NaN missing)
    valid: np.ndarray  # [n, F]
    carry: np.ndarray  # [n, F] previous observed value of the channel
    same: np.ndarray  # [n, F] value equals the previous observed one
    run_same: np.ndarray  # [n, F] repeats in a row up to here
    run_prev: np.ndarray  # [n, F] run_same of the row before (0: it was no repeat)
    run_miss: np.ndarray  # [n, F] gaps in a row up to here
    hour: np.ndarray  # [n] time-of-day bin
    tf: np.ndarray  # [n, 4] time features
    seen: np.ndarray  # [n] rows of the device before this one

    @property
    def rslot(self) -> np.ndarray:
        return self.gslot[self.group]

    @property
    def ends(self) -> np.ndarray:
        return np.append(self.starts[1:] - 1, len(self.x) - 1)


def prepare(slots: np.ndarray, time: np.ndarray, values: np.ndarray, a: dict) -> Batch:
    """Group the rows by slot and derive carries and run lengths from the stored per-device state."""
    order, group, pos, starts = group_rows(slots)
    gslot = slots[order][starts]
    rslot, rstart = gslot[group], starts[group]
    x = values[order]
    valid = ~np.isnan(x)
    carry = previous_observed(x, rstart, a["last"][rslot])
    same = valid & (x == carry)
    t = np.asarray(time, dtype=np.float64)[order]
    run_same = segmented_run(same, valid & ~same, rstart, a["run_same"][rslot])
    run_prev = np.empty_like(run_same)
    run_prev[1:] = run_same[:-1]
    first = pos == 0
    run_prev[first] = a["run_same"][gslot]
    return Batch(
        order, group, pos, starts, gslot, x, valid, carry, same, run_same, run_prev,
        segmented_run(~valid, valid, rstart, a["run_miss"][rslot]),
        ((t % 86400.0) // (86400.0 / HOURS)).astype(np.int64), time_features(t),
        a["seen"][rslot] + pos,
    )  # fmt: skip


@dataclass
class Scored:
    """What scoring a batch produced (sorted row order)."""

    score: np.ndarray
    kind: np.ndarray
    channel: np.ndarray
    thr: np.ndarray
    anomaly: np.ndarray
    y: np.ndarray  # normalised values
    yhat: np.ndarray  # their forecasts
    comp: np.ndarray  # [4, n, F] score components
    rvar: np.ndarray  # [n, F] residual variance in force
    qc: np.ndarray  # [n, F] each channel's score scale (its q-quantile)
    cache: list[np.ndarray]  # network activations for the backward pass


def forward(b: Batch, a: dict, params: list[np.ndarray], cfg: ModelConfig) -> Scored:
    """Score every row with the state before the batch (weights, statistics, threshold)."""
    rslot, f = b.rslot, b.x.shape[1]
    mean = a["mean"][rslot]
    quantum = a["quantum"][rslot]
    sd = nz.scale(a["var"][rslot], mean, quantum)
    cn = np.nan_to_num((b.carry - mean) / sd).astype(np.float32)
    y = ((b.x - mean) / sd).astype(np.float32)
    inp = np.zeros((len(b.starts), int(b.pos.max()) + 1, f + b.tf.shape[1]), dtype=np.float32)
    inp[b.group, b.pos, :f] = cn
    inp[b.group, b.pos, f:] = b.tf
    out, cache = nn.forward(params, inp)
    yhat = cn + out[b.group, b.pos]
    resid = np.where(b.valid, y - yhat, 0.0)
    q = np.where(np.isfinite(quantum), quantum, 0.0)
    rvar = np.maximum(a["rvar"][rslot], np.square(0.5 * q / sd))
    # a time-of-day cell's rate, shrunk towards the channel's rate while it has few trials
    cell = (rslot[:, None], np.arange(f)[None, :], b.hour[:, None])
    n_cell = a["n_same"][cell]
    p_same = (n_cell * a["p_same"][cell] + cfg.cell_prior * a["p_same_all"][rslot]) / (
        n_cell + cfg.cell_prior
    )
    # repeating at the extreme of the channel's past (finished) runs is saturation, not stuck
    edge = (b.x == a["run_hi"][rslot]) | (b.x == a["run_lo"][rslot])
    sticky = a["p_same_all"][rslot] >= cfg.sticky
    edge |= sticky & ((b.x >= a["hi"][rslot]) | (b.x <= a["lo"][rslot]))
    p_same = np.where(edge, 1.0, p_same)
    comp = sc.components(
        resid, rvar, y, cfg.level_k, b.run_same, p_same, b.run_miss, a["p_miss"][rslot],
        b.valid, (1.0, cfg.level_weight, cfg.stuck_weight, cfg.missing_weight),
    )  # fmt: skip
    # each channel's evidence in units of its own recent q-quantile: a heavy-tailed channel
    # (light switching on) does not drown a quiet one, and all share one threshold
    qc = a["qc"][rslot]
    score, kind, channel = sc.reduce(comp / qc)
    warm = b.seen < cfg.warmup
    thr = np.where(warm, np.inf, cfg.threshold_factor).astype(np.float32)
    anomaly = score > thr
    return Scored(score, kind, channel, thr, anomaly, y, yhat, comp, rvar, qc, cache)


def train(
    b: Batch,
    params: list[np.ndarray],
    cache: list[np.ndarray],
    y: np.ndarray,
    yhat: np.ndarray,
    learn: np.ndarray,
    clip: np.ndarray,
    prox: tuple[float, list[np.ndarray] | None],
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Gradients of each group's mean Huber forecast loss over its learnable rows.

    Residuals beyond `clip` [n, F] count linearly: an outlier moves the weights a bounded
    amount, a lasting change is still learned. Returns (grads stacked per group, loss per
    group, learnable values per group).
    """
    mask = b.valid & learn[:, None]
    diff = np.where(mask, yhat - np.nan_to_num(y), 0.0).astype(np.float32)
    diff = np.clip(diff, -clip, clip)
    count = nz.group_sums(mask.sum(axis=1), b.starts).astype(np.float32)
    per = np.maximum(count, 1.0)
    loss = 0.5 * nz.group_sums((diff * diff).sum(axis=1), b.starts) / per
    dout = np.zeros((*cache[0].shape[:2], b.x.shape[1]), dtype=np.float32)
    dout[b.group, b.pos] = diff / per[b.group, None]
    grads = nn.backward(params, cache, dout)
    mu, global_ = prox
    if mu > 0 and global_ is not None:
        for i, g in enumerate(global_):
            grads[i] += mu * (params[i] - g)
    return grads, loss, count


def update_stats(
    b: Batch, a: dict, cfg: ModelConfig, resid_y: np.ndarray, comp: np.ndarray,
    qc: np.ndarray, learn: np.ndarray, decay: float,
) -> None:  # fmt: skip
    """Per-device statistics after the batch, learned from the `learn` (normal) rows."""
    g, starts, x, valid = b.gslot, b.starts, b.x, b.valid
    f = x.shape[1]
    mean, var = a["mean"][g][b.group], a["var"][g][b.group]
    bound = cfg.winsor * nz.scale(var, mean, a["quantum"][g][b.group])
    # the normaliser learns from every row during its first `adapt` rows (no lock-in while it
    # has not seen a whole day), from normal rows afterwards (a stuck value stays abnormal)
    adapting = (b.seen < cfg.adapt)[:, None]
    use = valid & (learn[:, None] | adapting)
    bound = np.where(adapting, np.inf, bound)
    xw = np.where(use, np.clip(x, mean - bound, mean + bound), 0.0).astype(np.float64)
    kv = nz.group_sums(use.astype(np.float64), starts)
    w = nz.ema_weight(kv, a["n_obs"][g], cfg.norm_alpha)
    s1, s2 = nz.group_sums(xw, starts), nz.group_sums(xw * xw, starts)
    a["mean"][g], a["var"][g] = nz.update_moments(a["mean"][g], a["var"][g], kv, s1, s2, w)
    step = np.abs(x - b.carry)
    step = np.where(valid & (step > 0), step, np.inf)
    a["quantum"][g] = np.minimum(a["quantum"][g], np.minimum.reduceat(step, starts))
    obs = valid & learn[:, None]
    # residual variance: every row, winsorised (a noisier regime is learned, an outlier barely)
    cap = cfg.winsor**2 * a["rvar"][g][b.group]
    r2 = nz.group_sums(np.where(valid, np.minimum(resid_y * resid_y, cap), 0.0), starts)
    w = nz.ema_weight(kv, a["n_obs"][g], cfg.resid_alpha)
    k = kv
    a["rvar"][g] = np.maximum(nz.update_rate(a["rvar"][g], k, r2, w), 1e-6)
    a["n_obs"][g] += kv
    # P(repeat | the previous reading repeated) per (channel, time-of-day bin): darkness and
    # saturation persist, a healthy temperature rarely repeats twice. Normal rows whose run is
    # not yet suspicious only: a stuck run never teaches it, even before it is flagged.
    cell = (b.rslot[:, None] * f + np.arange(f)[None, :]) * HOURS + b.hour[:, None]
    calm = comp[2] < cfg.stuck_gate * cfg.threshold_factor * qc  # a suspicious run teaches nothing
    plain = obs & calm & ~np.isnan(b.carry) & (b.run_prev >= 1)
    shape, size = a["p_same"].shape, a["p_same"].size
    trials = np.bincount(cell[plain], minlength=size).reshape(shape)
    hits = np.bincount(cell[plain & b.same], minlength=size).reshape(shape)
    w = nz.ema_weight(trials, a["n_same"], cfg.rate_alpha)
    a["p_same"] = np.clip(nz.update_rate(a["p_same"], trials, hits, w), 1e-3, 0.999)
    a["n_same"] += trials
    # ... and per channel over all normal rows (slowly): a channel that often sits still (light
    # in the dark) is not called stuck at the edge of its range while its daily cells are young
    every = obs & calm & ~np.isnan(b.carry) & (b.run_prev >= 1)
    k_all = nz.group_sums(every.astype(np.float64), starts)
    w = nz.ema_weight(k_all, a["seen"][g][:, None], cfg.rate_all_alpha)
    hits_all = nz.group_sums((every & b.same).astype(np.float64), starts)
    a["p_same_all"][g] = np.clip(
        nz.update_rate(a["p_same_all"][g], k_all, hits_all, w), 1e-3, 0.999
    )
    ended = valid & ~b.same & ~np.isnan(b.carry) & (b.run_prev >= 2)
    a["run_hi"][g] = np.maximum(
        a["run_hi"][g], np.maximum.reduceat(np.where(ended, b.carry, -np.inf), starts)
    )
    a["run_lo"][g] = np.minimum(
        a["run_lo"][g], np.minimum.reduceat(np.where(ended, b.carry, np.inf), starts)
    )
    a["hi"][g] = np.maximum(a["hi"][g], np.fmax.reduceat(x, starts))
    a["lo"][g] = np.minimum(a["lo"][g], np.fmin.reduceat(x, starts))
    rows = nz.group_sums(np.ones(len(x)), starts)
    kn = nz.group_sums(learn.astype(np.float64), starts)[:, None]
    w = nz.ema_weight(kn, a["seen"][g][:, None], cfg.rate_alpha)
    hits_m = nz.group_sums((~valid & learn[:, None]).astype(np.float64), starts)
    a["p_miss"][g] = np.clip(nz.update_rate(a["p_miss"][g], kn, hits_m, w), 1e-4, 0.5)
    counted = learn & calm.all(axis=1) & (b.seen >= cfg.warmup // 4)  # no stuck run either
    cells = (b.group[counted, None] * f + np.arange(f)[None, :]).ravel()
    hist = a["hist"][g].reshape(len(g) * f, -1)
    hist = th.add_scores(hist, cells, comp.max(axis=0)[counted].ravel(), np.repeat(rows, f), decay)
    a["hist"][g] = hist.reshape(len(g), f, -1)
    a["qc"][g] = th.quantile(hist, cfg.quantile).reshape(len(g), f)
    a["seen"][g] += rows.astype(np.int64)
    a["samples"][g] += kn[:, 0].astype(np.int64)
    ends = b.ends
    a["last"][g] = np.where(valid[ends], x[ends], b.carry[ends])
    a["run_same"][g] = b.run_same[ends]
    a["run_miss"][g] = b.run_miss[ends]
