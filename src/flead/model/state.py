"""Slot-indexed storage of every device's arrays: join, leave, grow, optimiser step, checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from flead.model import network as nn
from flead.model.config import ModelConfig
from flead.model.threshold import BINS
from flead.wire import WireError, decode_arrays, encode_arrays

HOURS = 24  # time-of-day cells of the per-hour rates and residual variances

__all__ = ["STATE_FORMAT", "BankState"]

STATE_FORMAT = "flead.model.device/4"


def _layout(f: int) -> dict[str, tuple[tuple[int, ...], type, float]]:
    """Per-device arrays: name -> (shape after the slot axis, dtype, initial value)."""
    return {
        "mean": ((f,), np.float64, 0.0),
        "var": ((f,), np.float64, 1.0),
        "n_obs": ((f,), np.float64, 0.0),
        "quantum": ((f,), np.float64, np.inf),
        "rvar": ((f,), np.float64, 1.0),
        "rvar_h": ((f, HOURS), np.float64, 1.0),
        "n_rvar_h": ((f, HOURS), np.int64, 0),
        "p_same": ((f, HOURS), np.float64, 0.1),
        "n_same": ((f, HOURS), np.int64, 0),
        "p_same_all": ((f,), np.float64, 0.001),
        "run_hi": ((f,), np.float32, -np.inf),
        "hi": ((f,), np.float32, -np.inf),
        "lo": ((f,), np.float32, np.inf),
        "run_lo": ((f,), np.float32, np.inf),
        "p_miss": ((f,), np.float64, 0.01),
        "last": ((f,), np.float32, np.nan),
        "base": ((f,), np.float64, np.nan),  # slow baseline (raw units)
        "bvar": ((f,), np.float64, 1.0),  # variance of the distance from it (normalised)
        "bvar_h": ((f, HOURS), np.float64, 1.0),
        "n_bvar_h": ((f, HOURS), np.int64, 0),
        "flagged": ((f,), np.bool_, False),  # the channel's last reading was flagged
        "far_run": ((f,), np.int64, 0),  # readings in a row far from the baseline (level hold)
        "onsets": ((f,), np.int64, 0),  # flagged lone jumps in that run (> 0: held)
        "run_same": ((f,), np.int64, 0),
        "run_miss": ((f,), np.int64, 0),
        "hist": ((f, BINS), np.float64, 0.0),
        "qc": ((f,), np.float64, np.inf),
        "seen": ((), np.int64, 0),
        "samples": ((), np.int64, 0),
        "loss": ((), np.float64, 0.0),
        "loss_n": ((), np.float64, 0.0),
        "base_version": ((), np.int64, 0),
    }


class BankState:
    """Stacked arrays with a leading slot axis; `slot` maps device id -> slot."""

    def __init__(
        self, f: int, init: list[np.ndarray], n_shared: int, pooled: bool, capacity: int
    ) -> None:
        self.layout = _layout(f)
        self.init, self.n_shared, self.pooled = init, n_shared, pooled
        self.capacity = max(1, capacity)
        self.slot: dict[str, int] = {}
        self.free: list[int] = []
        self.next_slot = 0
        self.global_: list[np.ndarray] | None = None
        self.global_version = 0  # base version a joining device starts from
        self.arrays: dict[str, np.ndarray] = {
            k: np.full((self.capacity, *s), v, dtype=t) for k, (s, t, v) in self.layout.items()
        }
        dw = 1 if pooled else self.capacity
        self.weights = [np.repeat(p[None], dw, axis=0) for p in init]
        self.m = [np.zeros_like(p) for p in self.weights]
        self.v = [np.zeros_like(p) for p in self.weights]
        self.wstep = np.zeros(dw, dtype=np.int64)  # Adam steps of the personal layers
        self.sstep = np.zeros(dw, dtype=np.int64)  # ... of the shared layers (reset on adoption)

    def wslot(self, slot: int) -> int:
        """Index into the weight arrays of a device's slot (always 0 when pooled)."""
        return 0 if self.pooled else slot

    def join(self, device: str) -> int:
        """The device's slot; a new device takes a free slot (growing capacity geometrically)."""
        slot = self.slot.get(device)
        if slot is not None:
            return slot
        if self.free:
            slot = self.free.pop()
        else:
            slot = self.next_slot
            self.next_slot += 1
            if slot >= self.capacity:
                self._grow(max(2 * self.capacity, slot + 1))
        self._reset(slot)
        self.slot[device] = slot
        return slot

    def release(self, device: str) -> None:
        """Drop a device (KeyError if unknown); its slot is cleared and goes to the free list."""
        slot = self.slot.pop(device)
        self._reset(slot)
        self.free.append(slot)

    def _reset(self, slot: int) -> None:
        for k, (_, _, fill) in self.layout.items():
            self.arrays[k][slot] = fill
        self.arrays["base_version"][slot] = self.global_version
        if self.pooled:
            return
        start = self.init if self.global_ is None else self.global_ + self.init[self.n_shared :]
        for w, m, v, p in zip(self.weights, self.m, self.v, start, strict=True):
            w[slot], m[slot], v[slot] = p, 0.0, 0.0
        self.wstep[slot] = self.sstep[slot] = 0

    def _grow(self, capacity: int) -> None:
        extra = capacity - self.capacity
        for k, (tail, t, fill) in self.layout.items():
            block: np.ndarray = np.full((extra, *tail), fill, dtype=t)
            self.arrays[k] = np.concatenate([self.arrays[k], block])
        if not self.pooled:
            for group in (self.weights, self.m, self.v):
                for i, a in enumerate(group):
                    group[i] = np.concatenate([a, np.zeros((extra, *a.shape[1:]), a.dtype)])
            self.wstep = np.concatenate([self.wstep, np.zeros(extra, dtype=np.int64)])
            self.sstep = np.concatenate([self.sstep, np.zeros(extra, dtype=np.int64)])
        self.capacity = capacity

    def set_global(self, weights: Sequence[np.ndarray], version: int) -> np.ndarray:
        """Adopt a global version; returns the slots that moved to it.

        Every device whose base version differs gets the shared weights, a fresh start of the
        shared layers' Adam moments and step count, no unsent samples, and the new base
        version. Its personal layers (and their optimiser state) and statistics are kept. A
        device already at `version` (restored from a checkpoint) keeps its weights.
        """
        shapes = [p.shape for p in self.init[: self.n_shared]]
        got = [np.shape(w) for w in weights]
        if got != shapes:
            raise ValueError(f"global weights have shapes {got}, expected {shapes}")
        self.global_ = [np.array(w, dtype=np.float32) for w in weights]
        self.global_version = int(version)
        used = np.array(sorted(self.slot.values()), dtype=np.int64)
        moved = used[self.arrays["base_version"][used] != version]
        rows = np.zeros(1, np.int64) if self.pooled else moved
        if self.pooled and not len(moved):
            rows = rows[:0]
        for i, w in enumerate(self.global_):
            self.weights[i][rows] = w
            self.m[i][rows] = 0.0
            self.v[i][rows] = 0.0
        self.sstep[rows] = 0
        self.arrays["samples"][moved] = 0
        self.arrays["base_version"][moved] = version
        return moved

    def step(
        self, idx: np.ndarray, params: list[np.ndarray], grads: list[np.ndarray], cfg: ModelConfig
    ) -> None:
        """Adam on the weight rows `idx` given their current values and gradients."""
        m = [a[idx] for a in self.m]
        v = [a[idx] for a in self.v]
        ns = self.n_shared
        ts, tp = self.sstep[idx] + 1, self.wstep[idx] + 1
        nn.adam_step(params[:ns], grads[:ns], m[:ns], v[:ns], ts, cfg.lr, cfg.beta1, cfg.beta2)
        nn.adam_step(params[ns:], grads[ns:], m[ns:], v[ns:], tp, cfg.lr, cfg.beta1, cfg.beta2)
        for group, new in ((self.weights, params), (self.m, m), (self.v, v)):
            for a, b in zip(group, new, strict=True):
                a[idx] = b
        self.sstep[idx], self.wstep[idx] = ts, tp

    def export(self, device: str, meta: dict[str, Any]) -> bytes:
        """The device's arrays (statistics, weights, optimiser moments) as a wire blob."""
        slot = self.slot[device]
        w = self.wslot(slot)
        names = list(self.layout)
        arrays = [self.arrays[k][slot] for k in names]
        arrays += [a[w] for a in (*self.weights, *self.m, *self.v)]
        arrays += [self.wstep[w : w + 1], self.sstep[w : w + 1]]
        head = {"format": STATE_FORMAT, "device": device, "names": names, "pooled": self.pooled}
        return encode_arrays(arrays, meta | head)

    def import_(self, device: str, blob: bytes, features: tuple[str, ...]) -> None:
        """Load `export` output into the device's slot (joining it when new)."""
        arrays, meta = decode_arrays(blob)
        names = list(self.layout)
        n_w = len(self.weights)
        if meta.get("format") != STATE_FORMAT or meta.get("names") != names:
            raise WireError("bad_state", f"not a {STATE_FORMAT} blob")
        if tuple(meta.get("features", ())) != features:
            raise WireError("bad_state", f"features {meta.get('features')} != {list(features)}")
        if len(arrays) != len(names) + 3 * n_w + 2:
            raise WireError("bad_state", f"{len(arrays)} arrays")
        expect = [self.arrays[k].shape[1:] for k in names] + [p.shape for p in self.init] * 3
        if [a.shape for a in arrays[:-2]] != expect:
            raise WireError("bad_state", "array shapes do not match this bank's model")
        slot = self.join(device)
        for k, a in zip(names, arrays, strict=False):
            self.arrays[k][slot] = a
        w = self.wslot(slot)
        rest = arrays[len(names) :]
        for i, group in enumerate((self.weights, self.m, self.v)):
            for j, a in enumerate(group):
                a[w] = rest[i * n_w + j]
        self.wstep[w], self.sstep[w] = int(rest[-2][0]), int(rest[-1][0])
