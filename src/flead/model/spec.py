"""`ModelSpec`: the one definition of the model's shape contract (features, architecture, seed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from flead.model import network as nn
from flead.model.config import ModelConfig
from flead.model.features import TIME_FEATURES
from flead.model.priors import prior_shapes

__all__ = ["SPEC_FORMAT", "ModelSpec", "SpecMismatch", "TensorSpec"]

SPEC_FORMAT = 2  # bump when the meaning of the tensors changes


class TensorSpec(NamedTuple):
    """Name and shape of one federated tensor."""

    name: str
    shape: tuple[int, ...]


class SpecMismatch(ValueError):  # noqa: N818 -- reads as the condition it reports
    """Two processes disagree on the model: the message names both specs on one line."""

    def __init__(self, ours: ModelSpec, theirs: ModelSpec, who: str = "aggregator") -> None:
        super().__init__(f"model spec mismatch: this process has {ours}, the {who} has {theirs}")
        self.ours, self.theirs = ours, theirs


@dataclass(frozen=True)
class ModelSpec:
    """Everything that fixes the federated tensors: two processes federate iff their specs are equal.

    `shared_layers` is how many dense layers (from the input) are federated: all of them, or
    all but the output layer when each device keeps a personal head.
    """

    features: tuple[str, ...]
    hidden: tuple[int, ...] = ModelConfig.hidden
    personal_head: bool = ModelConfig.personal_head
    seed: int = 0
    format: int = SPEC_FORMAT

    @classmethod
    def of(
        cls, features: Sequence[str], config: ModelConfig | None = None, seed: int = 0
    ) -> ModelSpec:
        """The spec of a bank built with these features, config and seed."""
        c = config or ModelConfig()
        return cls(tuple(features), tuple(c.hidden), c.personal_head, int(seed))

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths, input first: features + time features -> hidden... -> features."""
        f = len(self.features)
        return (f + TIME_FEATURES, *self.hidden, f)

    def init_params(self) -> list[np.ndarray]:
        """Every device's initial network (shared and personal layers), from the seed."""
        return nn.init_params(np.random.default_rng(self.seed), self.sizes)

    @property
    def n_shared(self) -> int:
        """How many of the network's arrays are federated (W and b per shared layer)."""
        n = 2 * (len(self.sizes) - 1)
        return n - 2 if self.personal_head else n

    def tensors(self) -> tuple[TensorSpec, ...]:
        """The federated tensors, in order: the shared layers' W and b, then the fleet priors
        (`flead.model.priors`: the detection statistics a young device leans on)."""
        shapes = nn.layer_shapes(self.sizes)[: self.n_shared]
        net = tuple(
            TensorSpec(f"net.{i // 2}.{'wb'[i % 2]}", tuple(s)) for i, s in enumerate(shapes)
        )
        return net + tuple(TensorSpec(n, s) for n, s in prior_shapes(len(self.features)))

    def initial_tensors(self) -> list[np.ndarray]:
        """Version 0: the shared part of the seeded initial network and neutral priors (a bank
        ignores the priors of version 0: nobody has learned anything yet)."""
        priors = [np.zeros(s, np.float32) for _, s in prior_shapes(len(self.features))]
        return self.init_params()[: self.n_shared] + priors

    def to_meta(self) -> dict[str, Any]:
        """JSON form (wire metadata and registry documents)."""
        return {
            "features": list(self.features), "hidden": list(self.hidden),
            "personal_head": self.personal_head, "seed": self.seed, "format": self.format,
        }  # fmt: skip

    @classmethod
    def from_meta(cls, meta: Any) -> ModelSpec:
        """Inverse of `to_meta`; ValueError naming what is wrong."""
        if not isinstance(meta, dict):
            raise ValueError("spec must be an object")
        try:
            return cls(
                tuple(str(f) for f in meta["features"]),
                tuple(int(h) for h in meta["hidden"]),
                bool(meta["personal_head"]),
                int(meta["seed"]),
                int(meta["format"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad spec {meta!r}: {exc}") from None

    def __str__(self) -> str:
        head = "personal head" if self.personal_head else "shared head"
        return (
            f"ModelSpec(features={','.join(self.features)}, hidden={'x'.join(map(str, self.hidden))}, "
            f"{head}, seed={self.seed}, format={self.format})"
        )
