"""Version 0 of the global model: the shared part of a freshly initialised device model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flead.model import DeviceBank

__all__ = ["initial_weights"]


def initial_weights(features: Sequence[str], seed: int) -> list[np.ndarray]:
    """The shared weights every new device model starts from (same features and seed as trainers)."""
    return DeviceBank(features, seed=seed).global_weights()
