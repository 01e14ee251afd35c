"""`DeviceBank`: every device of a process as stacked tensors; prequential micro-batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from flead.model import network as nn
from flead.model import normalize as nz
from flead.model import threshold as th
from flead.model.config import LocalUpdate, ModelConfig, StepResult
from flead.model.features import (
    TIME_FEATURES,
    group_rows,
    previous_observed,
    segmented_run,
    time_features,
)
from flead.model.state import BankState

__all__ = ["DeviceBank"]


class DeviceBank:
    """All of a process's devices; each keeps its own network, normaliser and threshold.

    With `pooled=True` one network (slot 0) serves every device (the centralised baseline);
    normalisation and thresholds stay per device.
    """

    def __init__(
        self,
        features: Sequence[str],
        config: ModelConfig | None = None,
        seed: int = 0,
        pooled: bool = False,
        capacity: int = 8,
    ) -> None:
        self.features = tuple(features)
        self.config = config or ModelConfig()
        self.pooled = pooled
        f = len(self.features)
        self.sizes = (f + TIME_FEATURES, *self.config.hidden, f)
        init = nn.init_params(np.random.default_rng(seed), self.sizes)
        n_shared = len(init) - 2 if self.config.personal_head else len(init)
        self.state = BankState(f, init, n_shared, pooled, capacity)
        self.version = 0
        self._decay = 0.5 ** (1.0 / self.config.threshold_halflife)

    # ---- membership -------------------------------------------------------------------
    def devices(self) -> list[str]:
        """Ids of the devices currently in the bank."""
        return list(self.state.slot)

    def remove(self, device: str) -> None:
        """Forget a device; its slot is reused by the next device that joins."""
        self.state.release(device)

    def global_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the shared (federated) arrays, in `local_update` order."""
        return [tuple(int(d) for d in a.shape) for a in self.state.init[: self.state.n_shared]]

    # ---- federation -------------------------------------------------------------------
    def local_update(self, device: str) -> LocalUpdate:
        """The device's shared weights and samples learned since its last update (then reset)."""
        st = self.state
        slot = st.slot[device]
        w = st.wslot(slot)
        samples = int(st.arrays["samples"][slot])
        st.arrays["samples"][slot] = 0
        return LocalUpdate(
            weights=[st.weights[i][w].copy() for i in range(st.n_shared)],
            samples=samples,
            base_version=int(st.arrays["base_version"][slot]),
            loss=float(st.arrays["loss"][slot]),
        )

    def adopt_global(self, weights: Sequence[np.ndarray], version: int) -> None:
        """Set the shared part of every device (personal heads and statistics are kept)."""
        self.state.set_global([np.asarray(a, dtype=np.float32) for a in weights])
        self.version = int(version)
        self.state.arrays["base_version"][:] = self.version

    def mean_loss(self, device: str | None = None) -> float:
        """Recent (EMA) training loss of one device, or the mean over all devices."""
        st = self.state
        if device is not None:
            return float(st.arrays["loss"][st.slot[device]])
        slots = list(st.slot.values())
        return float(np.nanmean(st.arrays["loss"][slots])) if slots else float("nan")

    # ---- checkpoints ------------------------------------------------------------------
    def export_state(self, device: str) -> bytes:
        """The device's full state (weights, optimiser, statistics, threshold, carry) as a blob."""
        meta = {"features": list(self.features), "config": asdict(self.config)}
        return self.state.export(device, meta | {"version": self.version})

    def import_state(self, device: str, blob: bytes) -> None:
        """Restore a device from `export_state` output (it joins if it is new)."""
        self.state.import_(device, blob, self.features)

    # ---- the prequential step ---------------------------------------------------------
    def process(self, device: np.ndarray, time: np.ndarray, values: np.ndarray) -> StepResult:
        """Score every row with the state before this batch, then learn from the normal rows."""
        n = len(device)
        values = np.asarray(values, dtype=np.float32).reshape(n, len(self.features))
        if n == 0:
            empty = np.zeros(0, dtype=np.float32)
            return StepResult(empty, empty.copy(), np.zeros(0, dtype=bool))
        st, cfg = self.state, self.config
        ids, inverse = np.unique(np.asarray(device).astype(str), return_inverse=True)
        slot_of_id = np.array([st.join(str(d)) for d in ids], dtype=np.int64)
        order, group, pos, starts = group_rows(slot_of_id[inverse])
        gslot = slot_of_id[inverse][order][starts]
        a = st.arrays
        rslot, rstart = gslot[group], starts[group]
        x = values[order]
        valid = ~np.isnan(x)
        carry = previous_observed(x, rstart, a["last"][rslot])
        same = valid & (x == carry)
        run_same = segmented_run(same, valid & ~same, rstart, a["run_same"][rslot])
        run_miss = segmented_run(~valid, valid, rstart, a["run_miss"][rslot])
        mean = a["mean"][rslot]
        sd = nz.scale(a["var"][rslot], mean, a["quantum"][rslot])
        cn = np.nan_to_num((carry - mean) / sd).astype(np.float32)
        y = ((x - mean) / sd).astype(np.float32)
        g, m = len(starts), int(pos.max()) + 1
        inp = np.zeros((g, m, self.sizes[0]), dtype=np.float32)
        inp[group, pos, : len(self.features)] = cn
        inp[group, pos, len(self.features) :] = time_features(np.asarray(time)[order])
        widx = np.zeros(g, dtype=np.int64) if self.pooled else gslot
        params = [w[widx] for w in st.weights]
        out, cache = nn.forward(params, inp)
        yhat = cn + out[group, pos]
        resid = np.where(valid, y - yhat, 0.0)
        quantum = np.where(np.isfinite(a["quantum"][rslot]), a["quantum"][rslot], 0.0)
        rvar = np.maximum(a["rvar"][rslot], np.square(0.5 * quantum / sd))
        comp = np.maximum(resid * resid / rvar, np.square(y / cfg.level_k))
        comp = np.maximum(comp, run_same * -np.log(a["p_same"][rslot]) * cfg.stuck_weight)
        comp = np.where(valid, comp, run_miss * -np.log(a["p_miss"][rslot]) * cfg.missing_weight)
        score = np.nanmax(comp, axis=1).astype(np.float32)
        seen_before = a["seen"][rslot] + pos
        thr = np.where(seen_before < cfg.warmup, np.inf, a["thr"][rslot]).astype(np.float32)
        anomaly = score > thr
        self._learn(params, cache, inp, group, pos, starts, gslot, widx, x, valid, y, yhat, anomaly)
        self._update_stats(
            group, starts, gslot, x, valid, carry, same, resid, score, anomaly, seen_before
        )
        last = starts[1:] - 1 if g > 1 else np.zeros(0, dtype=np.int64)
        ends = np.append(last, len(x) - 1)
        a["last"][gslot] = np.where(valid[ends], x[ends], carry[ends])
        a["run_same"][gslot] = run_same[ends]
        a["run_miss"][gslot] = run_miss[ends]
        result = StepResult(np.empty(n, np.float32), np.empty(n, np.float32), np.empty(n, bool))
        result.score[order], result.threshold[order], result.anomaly[order] = score, thr, anomaly
        return result

    def _learn(
        self,
        params: list[np.ndarray],
        cache: list[np.ndarray],
        inp: np.ndarray,
        group: np.ndarray,
        pos: np.ndarray,
        starts: np.ndarray,
        gslot: np.ndarray,
        widx: np.ndarray,
        x: np.ndarray,
        valid: np.ndarray,
        y: np.ndarray,
        yhat: np.ndarray,
        anomaly: np.ndarray,
    ) -> None:
        """One Adam step per device (or one pooled step) on the masked MSE of its normal rows."""
        st, cfg = self.state, self.config
        mask = valid & ~anomaly[:, None]
        diff = np.where(mask, yhat - np.nan_to_num(y), 0.0).astype(np.float32)
        count = nz.group_sums(mask.sum(axis=1), starts).astype(np.float32)
        loss = 0.5 * nz.group_sums((diff * diff).sum(axis=1), starts) / np.maximum(count, 1.0)
        a = st.arrays
        w = nz.ema_weight(count > 0, a["loss_n"][gslot], cfg.loss_alpha)
        a["loss"][gslot] = np.where(
            count > 0, a["loss"][gslot] * (1 - w) + w * loss, a["loss"][gslot]
        )
        a["loss_n"][gslot] += count > 0
        dout = np.zeros((*inp.shape[:2], len(self.features)), dtype=np.float32)
        dout[group, pos] = diff / np.maximum(count, 1.0)[group, None]
        grads = nn.backward(params, cache, dout)
        if cfg.prox_mu > 0 and st.global_ is not None:
            for i in range(st.n_shared):
                grads[i] += cfg.prox_mu * (params[i] - st.global_[i])
        active = count > 0
        if self.pooled:
            if not active.any():
                return
            grads = [gr[active].sum(axis=0, keepdims=True) / active.sum() for gr in grads]
            params = [p[:1] for p in params]
            idx = np.zeros(1, dtype=np.int64)
        else:
            grads = [gr[active] for gr in grads]
            params = [p[active] for p in params]
            idx = widx[active]
        st.step(idx, params, grads, cfg)

    def _update_stats(
        self,
        group: np.ndarray,
        starts: np.ndarray,
        gslot: np.ndarray,
        x: np.ndarray,
        valid: np.ndarray,
        carry: np.ndarray,
        same: np.ndarray,
        resid: np.ndarray,
        score: np.ndarray,
        anomaly: np.ndarray,
        seen_before: np.ndarray,
    ) -> None:
        """Normaliser, residual scale, repeat/missing rates, score histogram: normal rows only."""
        a, cfg = self.state.arrays, self.config
        normal = ~anomaly
        obs = valid & normal[:, None]
        # the input normaliser learns from every row, winsorised: no lock-in after a healthy shift
        mean, var = a["mean"][gslot][group], a["var"][gslot][group]
        bound = cfg.winsor * nz.scale(var, mean, a["quantum"][gslot][group])
        xw = np.where(valid, np.clip(x, mean - bound, mean + bound), 0.0).astype(np.float64)
        kv = nz.group_sums(valid.astype(np.float64), starts)
        n_old = a["n_obs"][gslot]
        w = nz.ema_weight(kv, n_old, cfg.norm_alpha)
        s1, s2 = nz.group_sums(xw, starts), nz.group_sums(xw * xw, starts)
        a["mean"][gslot], a["var"][gslot] = nz.update_moments(
            a["mean"][gslot], a["var"][gslot], kv, s1, s2, w
        )
        a["n_obs"][gslot] = n_old + kv
        step = np.abs(x - carry)
        step = np.where(valid & (step > 0), step, np.inf)
        a["quantum"][gslot] = np.minimum(a["quantum"][gslot], np.minimum.reduceat(step, starts))
        k = nz.group_sums(obs.astype(np.float64), starts)
        r2 = nz.group_sums(np.where(obs, resid * resid, 0.0), starts)
        w = nz.ema_weight(k, n_old, cfg.resid_alpha)
        a["rvar"][gslot] = np.maximum(nz.update_rate(a["rvar"][gslot], k, r2, w), 1e-6)
        rep = obs & ~np.isnan(carry)
        kr = nz.group_sums(rep.astype(np.float64), starts)
        w = nz.ema_weight(kr, n_old, cfg.rate_alpha)
        hits = nz.group_sums((rep & same).astype(np.float64), starts)
        a["p_same"][gslot] = np.clip(nz.update_rate(a["p_same"][gslot], kr, hits, w), 1e-3, 0.999)
        kn = nz.group_sums(np.repeat(normal[:, None], x.shape[1], 1).astype(np.float64), starts)
        w = nz.ema_weight(kn, a["seen"][gslot][:, None], cfg.rate_alpha)
        hits = nz.group_sums((~valid & normal[:, None]).astype(np.float64), starts)
        a["p_miss"][gslot] = np.clip(nz.update_rate(a["p_miss"][gslot], kn, hits, w), 1e-4, 0.5)
        counted = normal & (seen_before >= cfg.warmup // 2)
        rows = nz.group_sums(np.ones(len(x)), starts)
        hist = th.add_scores(a["hist"][gslot], group[counted], score[counted], rows, self._decay)
        a["hist"][gslot] = hist
        a["thr"][gslot] = th.quantile(hist, cfg.quantile) * cfg.threshold_factor
        a["seen"][gslot] += rows.astype(np.int64)
        a["samples"][gslot] += nz.group_sums(normal.astype(np.int64), starts)
