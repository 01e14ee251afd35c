"""Per-device statistics learned after each micro-batch (normaliser, residual scales, rates)."""

from __future__ import annotations

import numpy as np

from flead.model import normalize as nz
from flead.model import threshold as th
from flead.model.config import ModelConfig
from flead.model.hold import Hold, accept_lasting
from flead.model.online import HOURS, Batch

__all__ = ["update_stats"]


def _cell_rate(
    rate: np.ndarray, count: np.ndarray, cells: np.ndarray, value: np.ndarray, alpha: float,
    floor: float, ceil: float = np.inf,
) -> None:  # fmt: skip
    """EMA of `value` per flat cell index, in place, touching only the cells seen this batch."""
    if len(cells) == 0:
        return
    touched, inverse = np.unique(cells, return_inverse=True)
    k = np.bincount(inverse).astype(np.float64)
    total = np.bincount(inverse, weights=value.astype(np.float64))
    flat_rate, flat_count = rate.reshape(-1), count.reshape(-1)
    w = nz.ema_weight(k, flat_count[touched], alpha)
    new = flat_rate[touched] + w * (total / k - flat_rate[touched])
    flat_rate[touched] = np.clip(new, floor, ceil)
    flat_count[touched] += k.astype(flat_count.dtype)


def update_stats(
    b: Batch, a: dict, cfg: ModelConfig, resid_y: np.ndarray, comp: np.ndarray,
    qc: np.ndarray, rvar_used: np.ndarray, learn: np.ndarray, decay: float,
) -> bool:  # fmt: skip
    """Per-device statistics after the batch, learned from the `learn` (normal) rows.

    Returns whether a device's plateau values moved (the fleet's may have changed).
    """
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
    rvar_row = rvar_used
    r2 = nz.group_sums(np.where(valid, np.minimum(resid_y * resid_y, cap), 0.0), starts)
    w = nz.ema_weight(kv, a["n_obs"][g], cfg.resid_alpha)
    k = kv
    a["rvar"][g] = np.maximum(nz.update_rate(a["rvar"][g], k, r2, w), 1e-6)
    a["n_obs"][g] += kv
    cell = (b.rslot[:, None] * f + np.arange(f)[None, :]) * HOURS + b.hour[:, None]
    r2_h = np.minimum(resid_y * resid_y, cfg.winsor**2 * rvar_row)[valid]
    _cell_rate(a["rvar_h"], a["n_rvar_h"], cell[valid], r2_h, cfg.resid_alpha, floor=1e-6)
    # P(repeat | the previous reading repeated) per (channel, time-of-day bin): darkness and
    # saturation persist, a healthy temperature rarely repeats twice. Normal rows whose run is
    # not yet suspicious only: a stuck run never teaches it, even before it is flagged.
    calm = comp[2] < cfg.stuck_gate * cfg.threshold_factor * qc  # a suspicious run teaches nothing
    plain = obs & calm & ~np.isnan(b.carry) & (b.run_prev >= 1)
    hits = (plain & b.same)[plain]
    _cell_rate(a["p_same"], a["n_same"], cell[plain], hits, cfg.rate_alpha, 1e-3, 0.999)
    # ... and per channel over all normal rows (slowly): a channel that often sits still (light
    # in the dark) is not called stuck at the edge of its range while its daily cells are young
    every = obs & calm & ~np.isnan(b.carry) & (b.run_prev >= 1)
    k_all = nz.group_sums(every.astype(np.float64), starts)
    w = nz.ema_weight(k_all, a["seen"][g][:, None], cfg.rate_all_alpha)
    hits_all = nz.group_sums((every & b.same).astype(np.float64), starts)
    a["p_same_all"][g] = np.clip(
        nz.update_rate(a["p_same_all"][g], k_all, hits_all, w), 1e-3, 0.999
    )
    # a run of >= 3 equal values that ended without being flagged: its value is a plateau the
    # channel legitimately sits on (saturation); a flagged stuck run never qualifies
    prev_normal = np.ones_like(learn)
    prev_normal[1:] = learn[:-1]
    prev_normal[starts] = True
    ended = valid & ~b.same & ~np.isnan(b.carry) & (b.run_prev >= 2) & prev_normal[:, None]
    old_hi, old_lo = a["run_hi"][g], a["run_lo"][g]
    new_hi = np.maximum(old_hi, np.maximum.reduceat(np.where(ended, b.carry, -np.inf), starts))
    new_lo = np.minimum(old_lo, np.minimum.reduceat(np.where(ended, b.carry, np.inf), starts))
    a["run_hi"][g], a["run_lo"][g] = new_hi, new_lo
    plateaus_moved = bool((new_hi != old_hi).any() or (new_lo != old_lo).any())
    # the range of normal, calm readings (a stuck value's first reading is flagged: excluded)
    xr = np.where(obs & calm, x, np.nan)
    a["hi"][g] = np.fmax(a["hi"][g], np.fmax.reduceat(xr, starts))
    a["lo"][g] = np.fmin(a["lo"][g], np.fmin.reduceat(xr, starts))
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
    return plateaus_moved


def update_baseline(
    b: Batch,
    a: dict,
    cfg: ModelConfig,
    gap: np.ndarray,
    bvar: np.ndarray,
    flagged: np.ndarray,
    hold: Hold,
) -> None:
    """The slow baseline (a winsorised EMA of every reading) and the variance of the distance
    from it, per channel and hour; which channels' last reading was flagged; the level hold.

    Each reading moves the baseline as if at most `base_clip` s.d. away, so a lasting shift is
    absorbed at a bounded pace; a flagged reading teaches the variance only `flag_weight` as
    much (a long fault barely widens its own yardstick, one that started too small still grows).
    A held or flagged reading does not move the baseline (a fault does not drag the level a
    healthy reading returns to) and teaches its variance as a flagged one; a hold longer than `hold_rows` is accepted: the
    baseline jumps to the channel's last reading (a lasting change stops being held).
    """
    g, starts, f, valid = b.gslot, b.starts, b.x.shape[1], b.valid
    moving = valid & ~hold.held & ~flagged
    old = a["base"][g]
    base_row = old[b.group]
    sd = nz.scale(a["var"][g], a["mean"][g], a["quantum"][g])[b.group]
    bound = cfg.base_clip * np.sqrt(bvar) * sd
    xc = np.where(np.isnan(base_row), b.x, np.clip(b.x, base_row - bound, base_row + bound))
    k = nz.group_sums(moving.astype(np.float64), starts)
    w = nz.ema_weight(k, a["seen"][g][:, None].astype(np.float64), cfg.base_alpha)
    mean_x = nz.group_sums(np.where(moving, xc, 0.0), starts) / np.maximum(k, 1.0)
    new = np.where(np.isnan(old), mean_x, old + w * (mean_x - np.nan_to_num(old)))
    a["base"][g] = np.where(k > 0, new, old)
    seen = valid & ~np.isnan(gap)
    gap2 = np.minimum(np.square(np.nan_to_num(gap)), cfg.winsor**2 * bvar)
    gap2 = np.where(flagged | hold.held, bvar + cfg.flag_weight * (gap2 - bvar), gap2)
    k_gap = nz.group_sums(seen.astype(np.float64), starts)
    w = nz.ema_weight(k_gap, a["seen"][g][:, None].astype(np.float64), cfg.resid_alpha)
    total = nz.group_sums(np.where(seen, gap2, 0.0), starts)
    a["bvar"][g] = np.maximum(nz.update_rate(a["bvar"][g], k_gap, total, w), 1e-6)
    cell = (b.rslot[:, None] * f + np.arange(f)[None, :]) * HOURS + b.hour[:, None]
    _cell_rate(a["bvar_h"], a["n_bvar_h"], cell[seen], gap2[seen], cfg.resid_alpha, floor=1e-6)
    ends = b.ends
    a["flagged"][g] = flagged[ends]
    if cfg.level_hold:
        accept, a["far_run"][g], a["onsets"][g] = accept_lasting(
            hold.far_run[ends], hold.onsets[ends], cfg.hold_rows
        )
        last = np.where(valid[ends], b.x[ends], b.carry[ends])
        a["base"][g] = np.where(accept & ~np.isnan(last), last, a["base"][g])
