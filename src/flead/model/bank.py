"""`DeviceBank`: every device of a process as stacked tensors; prequential micro-batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Protocol

import numpy as np

from flead.model import normalize as nz
from flead.model import online as ol
from flead.model.config import LocalUpdate, ModelConfig, StepResult
from flead.model.priors import Priors, device_statistics
from flead.model.spec import ModelSpec, SpecMismatch
from flead.model.state import BankState
from flead.model.stats import update_baseline, update_stats

__all__ = ["Adoptable", "DeviceBank"]


class Adoptable(Protocol):
    """What the bank needs of a global version (`flead.federation.ModelVersion` is one)."""

    @property
    def spec(self) -> ModelSpec: ...
    @property
    def version(self) -> int: ...
    @property
    def tensors(self) -> tuple[np.ndarray, ...]: ...


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
        self.spec = ModelSpec.of(self.features, self.config, seed)
        self.sizes = self.spec.sizes
        init = self.spec.init_params()
        self.state = BankState(len(self.features), init, self.spec.n_shared, pooled, capacity)
        self._decay = 0.5 ** (1.0 / self.config.threshold_halflife)
        self._fleet: tuple[np.ndarray, np.ndarray] | None = None
        self.priors: Priors | None = None  # the fleet's statistics, from an adopted version > 0

    # ---- membership -------------------------------------------------------------------
    def devices(self) -> list[str]:
        """Ids of the devices currently in the bank."""
        return list(self.state.slot)

    def add(self, device: str) -> None:
        """Register a device before its first reading (it starts from the global model)."""
        self.state.join(device)

    def remove(self, device: str) -> None:
        """Forget a device; its slot is reused by the next device that joins."""
        self.state.release(device)
        self._fleet = None

    def global_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the shared (federated) arrays, in `local_update` order."""
        return [tuple(int(d) for d in a.shape) for a in self.state.init[: self.state.n_shared]]

    # ---- federation -------------------------------------------------------------------
    @property
    def version(self) -> int:
        """The global version the bank adopted last (0 before any): the trainer's only copy."""
        return self.state.global_version

    @property
    def adopted(self) -> bool:
        """Whether a global version was adopted since the bank was built."""
        return self.state.global_ is not None

    def local_update(self, device: str) -> LocalUpdate:
        """The device's shared weights, samples learned since its last sent update, base version.

        Nothing is reset: `mark_sent` does that once the update was delivered.
        """
        st = self.state
        slot = st.slot[device]
        w = st.wslot(slot)
        return LocalUpdate(
            weights=[st.weights[i][w].copy() for i in range(st.n_shared)],
            samples=int(st.arrays["samples"][slot]),
            base_version=int(st.arrays["base_version"][slot]),
            loss=float(st.arrays["loss"][slot]),
        )

    def pending(self, devices: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per device: (samples since its last sent update, base version, rows seen) [K] int64."""
        slots = np.array([self.state.slot[d] for d in devices], dtype=np.int64)
        a = self.state.arrays
        return a["samples"][slots], a["base_version"][slots], a["seen"][slots]

    def weighted_shared(self, devices: Sequence[str], weights: np.ndarray) -> list[np.ndarray]:
        """sum_k weights[k] * federated tensors of devices[k] (shared layers, then the devices'
        detection statistics: `flead.model.priors`), per tensor: one gemv per tensor."""
        st = self.state
        rows = np.array([st.wslot(st.slot[d]) for d in devices], dtype=np.int64)
        w = np.asarray(weights, np.float32)
        out = []
        for i in range(st.n_shared):
            layer = st.weights[i]
            out.append((w @ layer[rows].reshape(len(rows), -1)).reshape(layer.shape[1:]))
        slots = np.array([st.slot[d] for d in devices], dtype=np.int64)
        for stat in device_statistics(st.arrays, slots):
            out.append(
                (w @ stat.reshape(len(slots), -1)).reshape(stat.shape[1:]).astype(np.float32)
            )
        return out

    def most_samples(self) -> int:
        """The largest samples-since-last-update of any device (free slots hold 0); one max."""
        return int(self.state.arrays["samples"].max(initial=0))

    def losses(self, devices: Sequence[str]) -> np.ndarray:
        """Recent (EMA) training loss per device [K]."""
        return self.state.arrays["loss"][[self.state.slot[d] for d in devices]]

    def mark_sent(self, devices: Sequence[str], samples: Sequence[int] | np.ndarray) -> None:
        """The devices' updates were delivered: subtract the samples they carried (their state
        changed: a checkpoint that writes only changed devices must write them)."""
        slots = [self.state.slot[d] for d in devices if d in self.state.slot]
        sent = np.asarray(samples, np.int64)[[d in self.state.slot for d in devices]]
        a = self.state.arrays["samples"]
        a[slots] = np.maximum(a[slots] - sent, 0)

    def global_weights(self) -> list[np.ndarray]:
        """The shared part every device starts from: the adopted global model, else the init."""
        st = self.state
        source = st.global_ if st.global_ is not None else st.init[: st.n_shared]
        return [a.copy() for a in source]

    def adopt(self, version: Adoptable) -> list[str]:
        """Adopt a global version in one call; returns the devices that moved to it (their
        state changed: a checkpoint that writes only changed devices must write them).

        Raises SpecMismatch (one line naming both specs) when the version is of another model.
        Devices at another base version get the shared weights and restart the shared layers'
        optimiser; personal layers, their optimiser state, normalisers and statistics are kept.
        """
        if version.spec != self.spec:
            raise SpecMismatch(self.spec, version.spec)
        tensors = list(version.tensors)
        n_net = self.state.n_shared
        moved = set(self.state.set_global(tensors[:n_net], int(version.version)).tolist())
        if self.config.use_priors and version.version > 0:
            self.priors = Priors.of(tensors[n_net:])
        return sorted(d for d, slot in self.state.slot.items() if slot in moved)

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
        return self.state.export(device, meta)

    def import_state(self, device: str, blob: bytes) -> None:
        """Restore a device from `export_state` output (it joins if it is new)."""
        self.state.import_(device, blob, self.features)
        self._fleet = None

    # ---- the prequential step ---------------------------------------------------------
    def process(self, device: np.ndarray, time: np.ndarray, values: np.ndarray) -> StepResult:
        """Score every row with the state before this batch, then learn from the batch.

        Rows of one device must come in time order (rows of different devices may
        interleave). The network learns from every row with a robust (Huber) loss; the
        statistics that define "normal" learn only from rows that were not flagged.
        """
        n = len(device)
        values = np.asarray(values, dtype=np.float32).reshape(n, len(self.features))
        if n == 0:
            empty = np.zeros(0, dtype=np.float32)
            none = np.zeros(0, dtype=np.int8)
            return StepResult(empty, empty.copy(), np.zeros(0, dtype=bool), none, none.copy())
        st, cfg = self.state, self.config
        get = st.slot.get
        ids = np.asarray(device, dtype=object).tolist()
        slots = [get(d, -1) for d in ids]
        if -1 in slots:  # newcomers (or ids that are not str): join them
            slots = [st.join(str(d)) for d in ids]
        a = st.arrays
        b = ol.prepare(np.array(slots, dtype=np.int64), time, values, a)
        widx = np.zeros(len(b.starts), dtype=np.int64) if self.pooled else b.gslot
        params = [w[widx] for w in st.weights]
        if self._fleet is None:
            self._fleet = (
                ol.fleet_edges(a["run_hi"], cfg.fleet_edge),
                ol.fleet_edges(a["run_lo"], cfg.fleet_edge),
            )
        s = ol.forward(b, a, params, cfg, self._fleet, self.priors)
        learn = ~s.anomaly
        prox = (cfg.prox_mu, st.global_)
        teach = np.ones_like(learn) if cfg.train_on_flagged else learn
        clip = (cfg.winsor * np.sqrt(s.rvar)).astype(np.float32)
        grads, loss, count = ol.train(b, params, s.cache, s.y, s.yhat, teach, clip, prox)
        self._step(b.gslot, widx, params, grads, loss, count)
        resid = np.where(b.valid, s.y - s.yhat, 0.0)
        update_baseline(b, a, cfg, s.gap, s.bvar, s.flagged, s.hold)
        if update_stats(b, a, cfg, resid, s.comp, s.qc, s.rvar, learn, self._decay):
            self._fleet = None  # a plateau run ended: recompute the fleet's plateaus
        result = StepResult(
            np.empty(n, np.float32), np.empty(n, np.float32), np.empty(n, bool),
            np.empty(n, np.int8), np.empty(n, np.int8),
        )  # fmt: skip
        o = b.order
        result.score[o], result.threshold[o], result.anomaly[o] = s.score, s.thr, s.anomaly
        result.kind[o], result.channel[o] = s.kind, s.channel
        return result

    def _step(
        self,
        gslot: np.ndarray,
        widx: np.ndarray,
        params: list[np.ndarray],
        grads: list[np.ndarray],
        loss: np.ndarray,
        count: np.ndarray,
    ) -> None:
        """Record each device's loss; one Adam step per device that learned (or one pooled)."""
        st, cfg = self.state, self.config
        a = st.arrays
        active = count > 0
        w = nz.ema_weight(active, a["loss_n"][gslot], cfg.loss_alpha)
        a["loss"][gslot] = np.where(active, a["loss"][gslot] * (1 - w) + w * loss, a["loss"][gslot])
        a["loss_n"][gslot] += active
        if not active.any():
            return
        if self.pooled:
            weight = count[active] / count[active].sum()
            grads = [np.tensordot(weight, gr[active], axes=1)[None] for gr in grads]
            params = [p[:1] for p in params]
            idx = np.zeros(1, dtype=np.int64)
        else:
            grads = [gr[active] for gr in grads]
            params = [p[active] for p in params]
            idx = widx[active]
        st.step(idx, params, grads, cfg)
