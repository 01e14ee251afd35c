"""Fleet priors: the detection statistics devices federate, and how a young device leans on them.

A device's own estimates of its residual variance per hour, its repeat and gap rates and its
score scale start from nothing; the fleet's (sample-weighted means of every device's, carried
in the global `ModelVersion` beside the network) stand in until the device's own data
outweighs them (`ModelConfig.prior_rows`). Variances travel in raw units (each device
normalises differently); rates and score scales are unit-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from flead.model import normalize as nz

__all__ = ["HOURS", "Priors", "device_statistics", "prior_shapes"]

HOURS = 24  # time-of-day cells (as `flead.model.state.HOURS`)


def prior_shapes(f: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Names and shapes of the federated statistics of a model with `f` channels.

    A statistic a device has not estimated yet must not count: each travels as value x has
    beside has (0/1), so the fleet's mean of both gives the mean over the devices that have it.
    """
    return (
        ("prior.log_rvar_h", (f, HOURS)),  # one-step residual variance per channel and hour, raw
        ("prior.has_rvar_h", (f, HOURS)),
        ("prior.p_same", (f, HOURS)),  # P(repeat | previous repeated) per channel and hour
        ("prior.has_p_same", (f, HOURS)),
        ("prior.logit_p_miss", (f,)),  # P(missing) per channel
        ("prior.log_qc", (f,)),  # each channel's score scale
        ("prior.has_qc", (f,)),
    )


def _mean(weighted: np.ndarray, has: np.ndarray, empty: float) -> np.ndarray:
    return np.where(has > 1e-9, weighted / np.maximum(has, 1e-9), empty)


class Priors(NamedTuple):
    """The fleet's statistics as a device uses them (decoded from a global version)."""

    rvar_h: np.ndarray  # [F, H] raw units (inf where no device has estimated it)
    p_same: np.ndarray  # [F, H] (0 where none has)
    p_miss: np.ndarray  # [F]
    log_qc: np.ndarray  # [F]

    @classmethod
    def of(cls, tensors: Sequence[np.ndarray]) -> Priors:
        """From the prior tensors of a global version (`prior_shapes` order)."""
        log_rvar, has_rvar, p_same, has_same, logit_miss, log_qc, has_qc = (
            np.asarray(t, np.float64) for t in tensors
        )
        return cls(
            np.exp(_mean(log_rvar, has_rvar, np.inf)),
            np.clip(_mean(p_same, has_same, 0.0), 0.0, 0.999),
            1.0 / (1.0 + np.exp(-logit_miss)),
            _mean(log_qc, has_qc, 0.0),
        )


def device_statistics(a: dict, slots: np.ndarray) -> list[np.ndarray]:
    """Per device [K, ...] its own statistics in `prior_shapes` order (what it contributes)."""
    sd = nz.scale(a["var"][slots], a["mean"][slots], a["quantum"][slots])
    rvar_raw = a["rvar_h"][slots] * np.square(sd)[:, :, None]
    has_rvar = (a["n_rvar_h"][slots] > 0).astype(np.float64)
    has_same = (a["n_same"][slots] > 0).astype(np.float64)
    p_miss = np.clip(a["p_miss"][slots], 1e-4, 0.5)
    qc = a["qc"][slots]
    has_qc = np.isfinite(qc).astype(np.float64)
    return [
        np.log(np.maximum(rvar_raw, 1e-12)) * has_rvar,
        has_rvar,
        a["p_same"][slots] * has_same,
        has_same,
        np.log(p_miss / (1.0 - p_miss)),
        np.log(np.where(np.isfinite(qc), qc, 1.0)) * has_qc,
        has_qc,
    ]
