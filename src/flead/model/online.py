"""One prequential micro-batch over many devices: group rows, score, then learn (vectorised)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flead.model import network as nn
from flead.model import normalize as nz
from flead.model import scoring as sc
from flead.model.config import ModelConfig
from flead.model.features import group_rows, previous_observed, segmented_run, time_features
from flead.model.hold import Hold, find_holds, hold_scores
from flead.model.priors import Priors
from flead.model.state import HOURS

__all__ = ["HOURS", "Batch", "Scored", "fleet_edges", "forward", "prepare", "train"]


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


def fleet_edges(edges: np.ndarray, share: float) -> np.ndarray:
    """[F] per channel the finished-run extreme most devices share (saturation), else NaN.

    `edges` [D, F] holds each device's extreme of finished runs (+-inf when none); a value
    counts when at least `share` of the devices with any finished run (and 3) report it.
    """
    out = np.full(edges.shape[1], np.nan, dtype=np.float32)
    for c in range(edges.shape[1]):  # a handful of channels, not rows or devices
        col = edges[:, c]
        col = col[np.isfinite(col)]
        if len(col) >= 3:
            values, counts = np.unique(col, return_counts=True)
            best = int(np.argmax(counts))
            if counts[best] >= max(3, share * len(col)):
                out[c] = values[best]
    return out


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
    gap: np.ndarray  # [n, F] distance from the slow baseline (NaN before it exists)
    bvar: np.ndarray  # [n, F] the variance of that distance in force
    flagged: np.ndarray  # [n, F] the channel's evidence crossed the threshold
    hold: Hold  # [n, F] level hold (all False / 0 with `level_hold` off)


def forward(
    b: Batch, a: dict, params: list[np.ndarray], cfg: ModelConfig,
    plateaus: tuple[np.ndarray, ...], priors: Priors | None = None,
) -> Scored:  # fmt: skip
    """Score every row with the state before the batch (weights, statistics, threshold).

    `plateaus` = (fleet_edges(run_hi), fleet_edges(run_lo)), cached by the caller; `priors`
    the fleet's statistics a young device's estimates are shrunk towards (federated modes).
    """
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
    if not cfg.network:
        out = np.zeros_like(out)
    yhat = cn + out[b.group, b.pos]
    resid = np.where(b.valid, y - yhat, 0.0)
    q = np.where(np.isfinite(quantum), quantum, 0.0)
    # residual variance of the hour (light is calm at night, jumpy at dawn), shrunk towards the
    # channel's overall variance while the hour has few readings
    chan_hour = np.arange(f)[None, :] * HOURS + b.hour[:, None]
    cell = rslot[:, None] * (f * HOURS) + chan_hour  # flat index of (slot, channel, hour)
    n_h = a["n_rvar_h"].reshape(-1).take(cell)
    rvar_h = a["rvar_h"].reshape(-1).take(cell)
    fallback = a["rvar"][rslot]
    if priors is not None:  # the fleet's variance of the hour (raw units), in this device's units
        fleet_rvar = priors.rvar_h.reshape(-1).take(chan_hour) / np.square(sd)
        lean = np.where(np.isfinite(fleet_rvar), cfg.prior_rows, 0.0)  # no device has it: none
        fleet_rvar = np.where(np.isfinite(fleet_rvar), fleet_rvar, 0.0)
        n_dev = np.maximum(a["n_obs"][rslot], 1.0)
        fallback = (n_dev * fallback + lean * fleet_rvar) / (n_dev + lean)
    rvar = (n_h * rvar_h + cfg.cell_prior * fallback) / (n_h + cfg.cell_prior)
    rvar = np.maximum(rvar, np.square(0.5 * q / sd))
    # a time-of-day cell's rate, shrunk towards the channel's rate while it has few trials
    # towards the larger of the device's channel rate and the fleet's rate for that hour (a
    # mote's first sunny day looks like its neighbours' saturated light, not like a failure)
    n_all = a["n_same"].sum(axis=0)
    fleet = (a["n_same"] * a["p_same"]).sum(axis=0) / np.maximum(n_all, 1)
    prior = a["p_same_all"][rslot]
    if cfg.pool_fleet:
        prior = np.maximum(prior, fleet.reshape(-1).take(chan_hour))
    if priors is not None:
        prior = np.maximum(prior, priors.p_same.reshape(-1).take(chan_hour))
    n_cell = a["n_same"].reshape(-1).take(cell)
    p_cell = a["p_same"].reshape(-1).take(cell)
    p_same = (n_cell * p_cell + cfg.cell_prior * prior) / (n_cell + cfg.cell_prior)
    # repeating at the extreme of the channel's past (finished) runs is saturation, not stuck
    edge = (b.x == a["run_hi"][rslot]) | (b.x == a["run_lo"][rslot])
    if cfg.pool_fleet:
        edge |= (b.x == plateaus[0]) | (b.x == plateaus[1])
    # ... and so is sitting at the extreme of the channel's normal range (a floor or a ceiling)
    sticky = (a["p_same_all"][rslot] >= cfg.sticky) | cfg.range_edges
    edge |= sticky & ((b.x == a["hi"][rslot]) | (b.x == a["lo"][rslot]))
    p_same = np.where(edge, 1.0, p_same)
    p_miss = a["p_miss"][rslot]
    if priors is not None:
        n_rows = a["seen"][rslot][:, None]
        p_miss = (n_rows * p_miss + cfg.prior_rows * priors.p_miss) / (n_rows + cfg.prior_rows)
    comp = sc.components(
        resid, rvar, y, cfg.level_k, np.maximum(b.run_same - cfg.stuck_min_run, 0), p_same, b.run_miss, p_miss,
        b.valid, (1.0, cfg.level_weight, cfg.stuck_weight, cfg.missing_weight),
    )  # fmt: skip
    # each channel's evidence in units of its own recent q-quantile: a heavy-tailed channel
    # (light switching on) does not drown a quiet one, and all share one threshold
    qc = a["qc"][rslot]
    if priors is not None:  # shrunk in log space towards the fleet's while the histogram is young
        mass = np.where(np.isfinite(qc), a["hist"][rslot].sum(axis=-1), 0.0)
        own = np.log(np.where(np.isfinite(qc), qc, 1.0))
        qc = np.exp((mass * own + cfg.prior_rows * priors.log_qc) / (mass + cfg.prior_rows))
    warm = b.seen < (cfg.warmup if priors is None else min(cfg.warmup, cfg.warmup_with_prior))
    thr = np.where(warm, np.inf, cfg.threshold_factor).astype(np.float32)
    # after an abnormal reading a channel is also judged against its slow baseline, whichever is
    # less surprising: the first healthy reading after a fault is near the baseline, not near
    # the faulty reading before it (which is all the forecast starts from)
    gap = y - (a["base"][rslot] - mean) / sd
    n_b = a["n_bvar_h"].reshape(-1).take(cell)
    bvar = (n_b * a["bvar_h"].reshape(-1).take(cell) + cfg.cell_prior * a["bvar"][rslot]) / (
        n_b + cfg.cell_prior
    )
    e_base = gap * gap / np.maximum(bvar, np.square(0.5 * q / sd))
    e_base = np.where(np.isnan(e_base), np.inf, e_base)
    flagged = (comp / qc).max(axis=0) > thr[:, None]
    hold = _level_hold(b, a, cfg, comp, qc, thr, e_base)
    # a held reading is a fault too: the reading after the last one of a held run is judged
    # against the baseline as well (it is where a shift that ended returns to)
    was = flagged | hold.held
    after = np.empty_like(flagged)
    after[1:] = was[:-1]
    carried = a["flagged"][b.gslot]
    if cfg.level_hold:
        run, onsets = a["far_run"][b.gslot], a["onsets"][b.gslot]
        carried = carried | ((onsets > 0) & (run > 0) & (run <= cfg.hold_rows))
    after[b.starts] = carried
    if cfg.baseline_after_fault:
        back = after & b.valid & (e_base < cfg.return_z**2)  # back within return_z s.d. of normal
        comp[0] = np.where(back, np.fmin(comp[0], e_base), comp[0])
    score, kind, channel = sc.reduce(comp / qc)
    if cfg.level_hold:  # its own scores, kept out of `comp`: they never feed the scale `qc`
        held_score = hold_scores(hold.held, e_base, qc, thr, cfg.hold_rank)
        best = np.argmax(held_score, axis=1)
        top = held_score[np.arange(len(best)), best]
        wins = top > score
        score = np.where(wins, top, score).astype(np.float32)
        kind = np.where(wins, sc.KINDS.index("hold"), kind).astype(np.int8)
        channel = np.where(wins, best, channel).astype(np.int8)
    anomaly = score > thr
    flagged = (comp / qc).max(axis=0) > thr[:, None]
    return Scored(
        score, kind, channel, thr, anomaly, y, yhat, comp, rvar, qc, cache, gap, bvar, flagged,
        hold,
    )  # fmt: skip


def _level_hold(
    b: Batch, a: dict, cfg: ModelConfig, comp: np.ndarray, qc: np.ndarray, thr: np.ndarray,
    e_base: np.ndarray,
) -> Hold:  # fmt: skip
    """Which readings are held (`flead.model.hold`): a channel's forecast flagged a jump away
    from its slow baseline while no other channel of the device jumped with it (a change of the
    surroundings moves several sensors, a fault one), and it has not come back since. Only once
    the device has seen `adapt` rows (a day: its daily changes are known to its statistics)."""
    shape = comp.shape[1:]
    if not cfg.level_hold:
        none = np.zeros(shape, dtype=np.int64)
        return Hold(np.zeros(shape, dtype=bool), none, none.copy())
    far = b.valid & np.isfinite(e_base) & (e_base >= cfg.return_z**2)
    surprise = comp[0] / qc
    jumped = b.valid & (surprise > cfg.hold_alone)
    alone = (jumped.sum(axis=1, keepdims=True) - jumped) == 0
    onset = far & alone & (surprise > thr[:, None])
    rslot = b.rslot
    hold = find_holds(
        far, onset, b.valid, b.starts[b.group], a["far_run"][rslot], a["onsets"][rslot],
        cfg.hold_rows,
    )  # fmt: skip
    grown = (b.seen >= cfg.adapt)[:, None]
    return hold._replace(held=hold.held & grown)


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
