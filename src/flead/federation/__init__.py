"""Federated aggregation: pure rules, incremental rounds, async buffering and update validation."""

from flead.federation.accumulate import RobustRoundBuffer, RoundAccumulator
from flead.federation.buffer import FedBuff
from flead.federation.flat import flatten, unflatten
from flead.federation.rules import (
    clip_by_norm,
    coordinate_median,
    fedavg,
    fedprox_gradient_term,
    krum,
    staleness_weight,
    trimmed_mean,
)
from flead.federation.validate import UpdateRejected, outcome_of, validate_update

__all__ = [
    "FedBuff",
    "RobustRoundBuffer",
    "RoundAccumulator",
    "UpdateRejected",
    "clip_by_norm",
    "coordinate_median",
    "fedavg",
    "fedprox_gradient_term",
    "flatten",
    "krum",
    "outcome_of",
    "staleness_weight",
    "trimmed_mean",
    "unflatten",
    "validate_update",
]
