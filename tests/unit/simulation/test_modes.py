"""What each FLEAD mode shares: local nothing between devices; no_network is personalized minus
the network."""

import numpy as np
import pytest

from flead.data.synth import generate
from flead.model import ModelConfig
from flead.simulation.modes import FEDERATED_MODES, MODES, make_bank
from flead.simulation.runner import Plan, run_mode

pytestmark = pytest.mark.unit


def test_no_network_is_personalized_with_the_network_off() -> None:
    """Same federation, same personal head, only `network` differs; it is in every table."""
    pers = make_bank("personalized", ("temperature",), ModelConfig(), 0).config
    off = make_bank("no_network", ("temperature",), ModelConfig(), 0).config
    assert off.network is False
    assert pers.network is True
    assert off.personal_head is pers.personal_head is True
    assert {**vars(off), "network": True} == vars(pers)
    assert "no_network" in FEDERATED_MODES
    assert "no_network" in MODES


def test_local_mode_shares_nothing_between_devices() -> None:
    """Device 1's local scores, thresholds and alarms are the same whether or not devices 2 and
    3 stream beside it (one-row batches, so batch composition cannot differ): in `local`,
    nothing one device learns reaches another."""
    r = generate(seed=3, devices=3, days=0.25).readings
    plan = Plan(batch=1, round_seconds=1800.0)
    both = run_mode("local", r, ModelConfig(), 0, plan)
    alone_rows = np.flatnonzero(r.device.astype(str) == "1")
    alone = run_mode("local", r.take(alone_rows), ModelConfig(), 0, plan)
    np.testing.assert_array_equal(both.score[alone_rows], alone.score)
    np.testing.assert_array_equal(both.threshold[alone_rows], alone.threshold)
    np.testing.assert_array_equal(both.anomaly[alone_rows], alone.anomaly)
