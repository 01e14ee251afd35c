"""Hyper-parameters of the per-device online model (`ModelConfig`) and the results it returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LocalUpdate", "ModelConfig", "StepResult"]


@dataclass(frozen=True)
class ModelConfig:
    """Network shape, optimiser, adaptation rates, score weights and threshold rule.

    The network forecasts each reading (normalised per device) from the previous observed
    reading and the time of day. Per channel, four kinds of evidence are computed: the squared
    forecast residual over the hour's residual variance, the squared level z / level_k**2
    (weight 0 by default), the surprise of a run of identical values (stuck) and of a run of
    gaps (missing). Each channel's largest evidence is divided by the device's recent
    `quantile` of that channel's evidence; the row's score is the largest of these, and the
    row is an anomaly when the score exceeds `threshold_factor` (after the warm-up).
    With `level_hold`, a channel that jumped away from its slow baseline on its own keeps being
    judged against the baseline from before the jump for up to `hold_rows` readings (`hold`
    evidence, ranked below the threshold: it orders readings, it raises no alarm).
    """

    hidden: tuple[int, ...] = (32, 16)
    network: bool = True  # False: the network's output is ignored (the `no_network` ablation)
    alarm_budget: float = 0.5  # false-alarm episodes per device-day baselines are held to
    pool_fleet: bool = (
        True  # devices of one bank share P(repeat) per hour and plateaus (off: `local`)
    )
    lr: float = 0.005
    beta1: float = 0.9
    beta2: float = 0.999
    prox_mu: float = 0.0  # FedProx: adds mu * (w - w_global) to the shared part's gradient
    personal_head: bool = True  # the output layer stays per device (not federated)
    train_on_flagged: bool = True  # Huber-robust training on every row (no lock-in)
    warmup: int = 500  # rows per device learned from but never flagged
    use_priors: bool = True  # lean on the fleet's statistics from an adopted global version
    warmup_with_prior: int = 100  # ... then a device is flagged after this many rows
    prior_rows: float = 1000.0  # own rows until a device's estimate counts as much as the fleet's
    adapt: int = 2800  # rows (~1 day) during which the normaliser learns from flagged rows too
    norm_alpha: float = 0.0005  # per-row EMA rate of the input normaliser (~1 day memory)
    winsor: float = 4.0  # robust clip (in sd) of normaliser, residual-variance and loss updates
    resid_alpha: float = 0.005  # per-row EMA rate of the residual variance
    rate_alpha: float = 0.002  # per-row EMA rate of P(value repeats) and P(value missing)
    rate_all_alpha: float = 0.0005  # ... of P(repeat) over all rows of a channel
    stuck_min_run: int = 0  # repeats in a row that are never evidence of a stuck sensor
    stuck_gate: float = 0.3  # runs scoring above gate * threshold do not teach P(repeat)
    cell_prior: float = 20.0  # trials until a time-of-day cell's P(repeat) counts half
    fleet_edge: float = 0.05  # share of devices whose runs end at a value making it saturation
    range_edges: bool = False  # repeats at the normal min/max are a plateau (off: cost recall)
    sticky: float = 0.3  # P(repeat) above which repeats at the range's edge are not "stuck"
    baseline_after_fault: bool = True  # after a flagged reading, also judge against the baseline
    return_z: float = 2.0  # ... when it is back within this many s.d. of the baseline
    base_alpha: float = 0.03  # per-row EMA rate of the slow baseline
    base_clip: float = 2.0  # a reading moves the baseline as if at most this many s.d. away
    flag_weight: float = 0.1  # how much a flagged reading teaches the baseline's variance
    level_hold: bool = True  # after a flagged jump of one channel, hold its slow baseline
    hold_rows: int = 120  # ... for at most this many readings; then the new level is normal
    hold_rank: float = 0.8  # a held reading scores at most this share of the threshold
    hold_alone: float = 3.0  # no hold when another channel's forecast evidence / qc exceeds it
    level_k: float = 2.0
    level_weight: float = 0.0  # off: it cost AUC-PR on the synthetic data
    stuck_weight: float = 1.0
    missing_weight: float = 1.0
    quantile: float = 0.95
    threshold_factor: float = 10.0
    threshold_halflife: float = 20000.0  # rows until an old score counts half in the histogram
    loss_alpha: float = 0.01

    def __post_init__(self) -> None:
        checks = {
            "hidden": all(h > 0 for h in self.hidden) and len(self.hidden) >= 1,
            "lr": self.lr > 0,
            "alarm_budget": self.alarm_budget > 0,
            "prox_mu": self.prox_mu >= 0,
            "warmup": self.warmup >= 0,
            "quantile": 0.0 < self.quantile < 1.0,
            "threshold_factor": self.threshold_factor > 0,
            "threshold_halflife": self.threshold_halflife > 0,
            "hold_rows": self.hold_rows >= 1,
            "hold_rank": 0.0 < self.hold_rank < 1.0,
            "hold_alone": self.hold_alone > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"ModelConfig.{name} out of range: {getattr(self, name)!r}")


@dataclass(frozen=True)
class StepResult:
    """Per row of a micro-batch, in input order: score, threshold in force, anomaly flag.

    The threshold is +inf while the device is warming up (nothing is flagged then).
    """

    score: np.ndarray  # float32 [n]
    threshold: np.ndarray  # float32 [n]
    anomaly: np.ndarray  # bool [n]
    kind: np.ndarray  # int8 [n]: which evidence is largest, index into flead.model.scoring.KINDS
    channel: np.ndarray  # int8 [n]: the feature index it came from


@dataclass(frozen=True)
class LocalUpdate:
    """The shared part of one device's network, the rows it learned since its last update."""

    weights: list[np.ndarray]
    samples: int
    base_version: int
    loss: float = float("nan")
