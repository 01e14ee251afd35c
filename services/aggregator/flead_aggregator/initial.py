"""Version 0 of the global model: the shared part of a freshly initialised device model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flead.model import DeviceBank

__all__ = ["initial_weights"]


def initial_weights(features: Sequence[str], seed: int) -> list[np.ndarray]:
    """The shared weights every new device model starts from (same features and seed as trainers)."""
    bank = DeviceBank(features, seed=seed)
    return [np.array(a, dtype=np.float32) for a in bank.state.init[: bank.state.n_shared]]
