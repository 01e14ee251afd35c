"""Late joiners: a seeded share of the devices whose rows before a third of the run are dropped."""

import numpy as np
import pytest

from flead.data.synth import generate
from flead.simulation.latejoin import late_join

pytestmark = pytest.mark.unit


def test_a_share_of_devices_joins_at_a_third_of_the_run() -> None:
    """10 devices, F = 0.3: three devices, no row of theirs before the join time, every row of
    the others kept; the same seed picks the same devices, another seed may not."""
    r = generate(seed=2, devices=10, days=0.6).readings
    out, late = late_join(r, 0.3, seed=5)
    assert late is not None
    assert len(late.devices) == 3
    span = r.time[-1] - r.time[0]
    assert late.join_time == pytest.approx(r.time[0] + span / 3)
    ids = out.device.astype(str)
    joined = np.isin(ids, late.devices)
    assert out.time[joined].min() >= late.join_time
    assert (~joined).sum() == (~np.isin(r.device.astype(str), late.devices)).sum()
    assert late_join(r, 0.3, seed=5)[1] == late
    picks = {late_join(r, 0.3, seed=s)[1].devices for s in range(6)}  # type: ignore[union-attr]
    assert len(picks) > 1


def test_no_late_joiners_and_bad_shares() -> None:
    """F = 0 (or one device) changes nothing; F outside [0, 1) is refused."""
    r = generate(seed=2, devices=3, days=0.2).readings
    assert late_join(r, 0.0, 0) == (r, None)
    one = r.take(r.device.astype(str) == "1")
    assert late_join(one, 0.5, 0)[1] is None
    with pytest.raises(ValueError, match="--late-joiners"):
        late_join(r, 1.0, 0)
