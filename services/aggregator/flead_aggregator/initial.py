"""Version 0's tensors for callers that only know features and seed (the services benchmark)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flead.model import ModelSpec

__all__ = ["initial_weights"]


def initial_weights(features: Sequence[str], seed: int) -> list[np.ndarray]:
    """The federated tensors every new device starts from: `ModelSpec.of(features, seed=seed)`."""
    return ModelSpec.of(features, seed=seed).initial_tensors()
