"""`Strategy`: accept (validate) -> accumulate incrementally -> version due? -> next `ModelVersion`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np

from flead.federation.accumulate import Rows, WeightedSum
from flead.federation.flat import flatten, unflatten
from flead.federation.rules import ROBUST_RULES, Rule, RuleParams, fedavg
from flead.federation.updates import clip_step, norm_of, staleness_weight
from flead.federation.validate import UpdateRejected, check_finite, check_norm, validate_update
from flead.federation.version import Granularity, Kind, Lineage, ModelVersion
from flead.wire import encode_arrays

__all__ = [
    "Closed",
    "FedBuff",
    "Policy",
    "Strategy",
    "StrategyConfig",
    "SyncFedAvg",
    "SyncRobust",
    "Update",
    "bundle_blob",
    "make_strategy",
]


class Policy(str, Enum):
    """Synchronous rounds, or asynchronous buffered aggregation."""

    SYNC = "sync"
    ASYNC = "async"


@dataclass(frozen=True)
class StrategyConfig:
    """Everything that decides how updates become versions (the aggregator's settings map onto it)."""

    policy: Policy = Policy.SYNC
    rule: Rule = Rule.FEDAVG
    params: RuleParams = field(default_factory=RuleParams)
    min_updates: int = 3  # sync: a round closes once this many participants contributed ...
    round_timeout: float = 30.0  # ... or with >= 1 update this old (async: the buffer flushes)
    buffer_size: int = 5  # async: updates buffered before the model moves
    server_lr: float = 1.0  # async
    staleness: str = "polynomial"  # async: weight of an update s versions old
    staleness_a: float = 0.5
    max_staleness: int = 8
    max_norm: float | None = 1000.0  # refuse steps longer than this
    clip_norm: float | None = None  # clip each step to this norm before aggregating

    def __post_init__(self) -> None:
        staleness_weight(0, self.staleness, self.staleness_a)  # rejects an unknown kind
        if self.min_updates < 1 or self.buffer_size < 1 or self.max_staleness < 0:
            raise ValueError("min_updates and buffer_size must be >= 1, max_staleness >= 0")
        if not (self.round_timeout > 0 and self.server_lr > 0):
            raise ValueError("round_timeout and server_lr must be > 0")


@dataclass(frozen=True)
class Update:
    """One contribution: tensors trained from `base_version` on `samples` samples.

    A trainer's partial aggregate is one Update whose tensors are its devices' sample-weighted
    mean and whose samples are their total; `sender` is the trainer (or the device). `via` is
    the participant that sent it (the trainer of a per-device update; empty: the sender).
    """

    update_id: str
    sender: str
    samples: int
    base_version: int
    tensors: Sequence[np.ndarray]
    loss: float | None = None
    received_at: float = 0.0
    devices: int = 1  # devices behind a partial aggregate
    via: str = ""

    @property
    def participant(self) -> str:
        """Who a round counts this update for: `via`, else the sender."""
        return self.via or self.sender

    def to_blob(self) -> bytes:
        """The update as a flead.wire blob (what POST /api/local-update takes)."""
        meta = {
            "update_id": self.update_id, "device": self.sender, "samples": int(self.samples),
            "base_version": int(self.base_version), "loss": self.loss, "devices": self.devices,
            "via": self.via,
        }  # fmt: skip
        return encode_arrays([np.asarray(t, np.float32) for t in self.tensors], meta)


def bundle_blob(updates: Sequence[Update]) -> bytes:
    """Several updates of one participant as ONE flead.wire blob: each tensor stacked [K, *shape],
    one metadata entry per update (what a trainer sends per round for a robust rule)."""
    if not updates:
        raise ValueError("an empty bundle")
    entries = [
        {"update_id": u.update_id, "device": u.sender, "samples": int(u.samples),
         "base_version": int(u.base_version), "loss": u.loss, "devices": u.devices}
        for u in updates
    ]  # fmt: skip
    stacked = [
        np.stack([np.asarray(u.tensors[j], np.float32) for u in updates])
        for j in range(len(updates[0].tensors))
    ]
    return encode_arrays(stacked, {"via": updates[0].via, "updates": entries})


@dataclass(frozen=True)
class Closed:
    """A version a strategy produced, with what the registry records about it."""

    version: ModelVersion
    mean_loss: float | None
    step_norm: float
    oldest_at: float | None


class Strategy(ABC):
    """Holds the current version, the last max_staleness + 1 versions (to take steps against
    an update's base) and the round so far; every method is O(model), never O(updates)."""

    granularity = Granularity.PARTIAL

    def __init__(self, config: StrategyConfig, current: ModelVersion) -> None:
        self.config = config
        self._history: OrderedDict[int, np.ndarray] = OrderedDict()
        self._shapes = [t.shape for t in current.spec.tensors()]
        self._ids: list[str] = []
        self._seen: set[str] = set()
        self._senders: list[str] = []
        self._samples = 0
        self._loss = (0.0, 0)  # sample-weighted loss sum, samples with a loss
        self._oldest: float | None = None
        self.adopt(current)

    # ---- the current version -----------------------------------------------------------
    @property
    def current(self) -> ModelVersion:
        """The version updates are taken against."""
        return self._current

    @property
    def name(self) -> str:
        """The rule as the registry records it."""
        return self.config.rule.value

    def adopt(self, version: ModelVersion, *, keep_round: bool = False) -> None:
        """Make `version` current: after `close` (once it is durable), at start, on a rollback
        (`keep_round`: the round's steps stay and apply to the new tensors)."""
        version = replace(version, granularity=self.granularity)
        self._current = version
        self._flat = flatten(version.tensors)[0]
        self.remember(version)
        if not keep_round:
            self._reset()

    def remember(self, version: ModelVersion) -> None:
        """Keep an older version's tensors, so updates based on it can still be accepted."""
        self._history[version.version] = flatten(version.tensors)[0]
        self._history = OrderedDict(sorted(self._history.items()))
        while len(self._history) > self.config.max_staleness + 1:
            self._history.popitem(last=False)

    # ---- the round ---------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Updates accepted into the round so far."""
        return len(self._ids)

    def holds(self, update_id: str) -> bool:
        """Whether the round already holds this update id."""
        return update_id in self._seen

    def check(self, u: Update) -> None:
        """Raise UpdateRejected unless `accept` would take `u` now (nothing changes)."""
        self._step_of(u)

    def accept(self, u: Update) -> int:
        """Validate `u` and fold it into the round; returns its staleness or raises UpdateRejected."""
        step = self._step_of(u)
        staleness = self._current.version - u.base_version
        self._fold(step, u.samples, staleness)
        self._ids.append(u.update_id)
        self._seen.add(u.update_id)
        self._senders.append(u.sender)
        self._participants.add(u.participant)
        self._samples += int(u.samples)
        if u.loss is not None:
            self._loss = (self._loss[0] + u.loss * u.samples, self._loss[1] + u.samples)
        if self._oldest is None:
            self._oldest = u.received_at
        return staleness

    def _step_of(self, u: Update) -> np.ndarray:
        """The update's flat step against its base version, validated (and clipped)."""
        cur = self._current
        c = self.config
        validate_update(
            u.tensors, u.samples, u.base_version, shapes=self._shapes,
            current_version=cur.version, max_staleness=c.max_staleness,
            seen_ids=self._seen, update_id=u.update_id, finite=False,
        )  # fmt: skip
        base = self._history.get(u.base_version)
        if base is None:
            raise UpdateRejected("stale", "base_version", f"version {u.base_version} is not kept")
        step = np.concatenate(u.tensors, axis=None, dtype=np.float32)
        if not np.isfinite(step).all():
            check_finite(u.tensors)
        np.subtract(step, base, out=step)
        check_norm(norm_of(step), c.max_norm)
        if c.clip_norm is not None:
            step = clip_step(step, c.clip_norm)
        return step

    def due(self, now: float) -> bool:
        """Whether the round should close now: enough participants contributed (trainers, or
        devices sending for themselves), or the oldest update waited round_timeout."""
        if not self._ids:
            return False
        if self._filled() >= self._enough():
            return True
        return self._oldest is not None and now - self._oldest >= self.config.round_timeout

    def close(self, now: float) -> Closed | None:
        """The next version from the round (None when empty); `adopt` it to make it current."""
        if not self._ids:
            return None
        step = self._step()
        lineage = Lineage(
            Kind.ROUND, self._current.version, self.name, now, tuple(self._ids),
            tuple(self._senders), self._samples,
        )  # fmt: skip
        tensors = unflatten(self._flat + step, self._shapes)
        version = self._current.successor(tensors, lineage)
        loss_sum, loss_n = self._loss
        return Closed(version, loss_sum / loss_n if loss_n else None, norm_of(step), self._oldest)

    def _reset(self) -> None:
        self._ids, self._senders, self._samples = [], [], 0
        self._participants: set[str] = set()
        self._seen = set()
        self._loss, self._oldest = (0.0, 0), None
        self._clear()

    def _filled(self) -> int:
        """How full the round is: participants (sync rounds)."""
        return len(self._participants)

    @abstractmethod
    def _enough(self) -> int: ...

    @abstractmethod
    def _fold(self, step: np.ndarray, samples: int, staleness: int) -> None: ...

    @abstractmethod
    def _step(self) -> np.ndarray: ...

    @abstractmethod
    def _clear(self) -> None: ...


class SyncFedAvg(Strategy):
    """Synchronous FedAvg: the round's steps weighted by samples, from a running sum."""

    def __init__(self, config: StrategyConfig, current: ModelVersion) -> None:
        self._sum = WeightedSum(flatten(current.tensors)[0].size)
        super().__init__(config, current)

    def _enough(self) -> int:
        return self.config.min_updates

    def _fold(self, step: np.ndarray, samples: int, staleness: int) -> None:
        self._sum.add(step, samples)

    def _step(self) -> np.ndarray:
        return fedavg(self._sum.total, self._samples)

    def _clear(self) -> None:
        self._sum.reset()


class SyncRobust(Strategy):
    """Synchronous trimmed mean, coordinate median or Krum over every device's step."""

    granularity = Granularity.PER_DEVICE

    def __init__(self, config: StrategyConfig, current: ModelVersion) -> None:
        if config.rule not in ROBUST_RULES:
            raise ValueError(f"{config.rule.value} is not a robust rule")
        self._rows = Rows(flatten(current.tensors)[0].size, max(16, config.min_updates))
        super().__init__(config, current)

    def _enough(self) -> int:
        return self.config.min_updates

    def _fold(self, step: np.ndarray, samples: int, staleness: int) -> None:
        self._rows.add(step)

    def _step(self) -> np.ndarray:
        return ROBUST_RULES[self.config.rule](self._rows.matrix, self.config.params)

    def _clear(self) -> None:
        self._rows.reset()


class FedBuff(Strategy):
    """Asynchronous buffered aggregation (Nguyen et al.), weighted by samples x staleness.

    An update s versions stale on n samples adds n * w(s) * step to a float64 sum; after
    `buffer_size` updates the model moves by server_lr * sum / (samples in the buffer).
    Dividing by the samples, not by sum(n * w(s)), makes stale updates shrink the step.
    """

    def __init__(self, config: StrategyConfig, current: ModelVersion) -> None:
        self._sum = WeightedSum(flatten(current.tensors)[0].size)
        super().__init__(config, current)

    @property
    def name(self) -> str:
        """FedBuff, whatever the configured sync rule."""
        return "fedbuff"

    def _enough(self) -> int:
        return self.config.buffer_size

    def _filled(self) -> int:
        return self.pending  # a buffer counts updates, whoever sent them

    def _fold(self, step: np.ndarray, samples: int, staleness: int) -> None:
        c = self.config
        self._sum.add(step, samples * staleness_weight(staleness, c.staleness, c.staleness_a))

    def _step(self) -> np.ndarray:
        return (self.config.server_lr * fedavg(self._sum.total, self._samples)).astype(np.float32)

    def _clear(self) -> None:
        self._sum.reset()


def make_strategy(config: StrategyConfig, current: ModelVersion) -> Strategy:
    """The strategy the config names, starting at `current`."""
    if config.policy is Policy.ASYNC:
        return FedBuff(config, current)
    if config.rule is Rule.FEDAVG:
        return SyncFedAvg(config, current)
    return SyncRobust(config, current)
