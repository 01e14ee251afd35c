"""The bootstrap over devices: paired units only, an interval that covers the mean, zero or not."""

import numpy as np
import pytest

from flead.evaluation.bootstrap import paired_difference

pytestmark = pytest.mark.unit


def test_a_clear_gain_excludes_zero_and_noise_does_not() -> None:
    """+0.1 on every device with small noise: interval around 0.1 excluding 0; pure noise
    around 0 does not exclude it; only devices present in both count."""
    rng = np.random.default_rng(0)
    b = {f"s1/{i}": float(v) for i, v in enumerate(rng.random(40))}
    a = {k: v + 0.1 + rng.normal(0, 0.02) for k, v in b.items()}
    a["only-a"] = 5.0
    d = paired_difference(a, b)
    assert d.units == 40
    assert d.low is not None
    assert d.high is not None
    assert d.mean is not None
    assert d.low < d.mean < d.high
    assert d.low > 0.08
    assert d.high < 0.12
    assert d.excludes_zero is True
    noise = {k: v + rng.normal(0, 0.1) for k, v in b.items()}
    assert paired_difference(noise, b).excludes_zero is False
    assert paired_difference({}, b).mean is None
