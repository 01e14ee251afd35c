"""The in-process runner: scored windows, stream cuts, federation rounds, identical inputs per mode."""

import numpy as np
import pytest

from flead.data.synth import generate
from flead.federation import Update
from flead.model import DeviceBank, ModelConfig
from flead.simulation.federate import Federation
from flead.simulation.modes import MODES, make_bank, parse_modes
from flead.simulation.runner import Plan, run_mode
from flead.simulation.source import scored_mask

pytestmark = pytest.mark.unit


def test_scored_mask_drops_the_first_share_of_each_device() -> None:
    """10 rows of a and 20 of b interleaved, warm-up 10%: the first 1 of a and 2 of b are skipped."""
    device = np.array(["a", "b", "b"] * 10, dtype=object)
    mask = scored_mask(device, 0.1)
    assert (~mask[device == "a"]).sum() == 1
    assert (~mask[device == "b"]).sum() == 2
    assert mask[:4].tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="warm-up"):
        scored_mask(device, 1.0)


def test_plan_cuts_rounds_on_batch_ends() -> None:
    """Rounds every 10 s of a 1-row-per-second stream, batches of 4: round ends are batch ends."""
    t = np.arange(35, dtype=float)
    ends, rounds = Plan(batch=4, round_seconds=10.0).cuts(t)
    assert rounds.tolist() == [10, 20, 30, 35]
    assert set(rounds.tolist()) <= set(ends.tolist())
    assert ends.tolist()[:4] == [4, 8, 10, 12]
    _, by_rows = Plan(batch=4, round_seconds=None, round_rows=7).cuts(t)
    assert by_rows.tolist() == [7, 14, 21, 28, 35]
    with pytest.raises(ValueError, match="--batch"):
        Plan(batch=0)


def test_parse_modes_keeps_canonical_order() -> None:
    """Modes come back in the documented order whatever the user's order."""
    assert parse_modes("river_hst, local") == ("local", "river_hst")
    assert parse_modes(",".join(MODES)) == MODES
    with pytest.raises(ValueError, match="unknown mode 'x'"):
        parse_modes("local,x")


def _feed(bank: DeviceBank, seed: int = 1) -> None:
    r = generate(seed=seed, devices=3, days=0.1).readings
    bank.process(r.device, r.time, r.values)


def test_a_round_runs_the_services_participant_and_strategy() -> None:
    """One round: the trainer's ONE partial aggregate (FedAvg of its devices) is accepted by the
    services' Strategy, the new version is adopted by every device; bytes are encoded sizes."""
    bank = make_bank("federated", ("temperature", "humidity", "light", "voltage"), ModelConfig(), 0)
    fed = Federation(bank)
    _feed(bank)
    fed.learned(0.0)
    ups = [bank.local_update(d) for d in bank.devices()]
    total = sum(u.samples for u in ups)
    expected = [sum(u.samples * u.weights[i].astype(np.float64) for u in ups) / total
                for i in range(len(ups[0].weights))]  # fmt: skip
    log = fed.round(1, 60.0)  # the services' cadence: due after 30 s with any sample
    assert (log.participants, log.samples) == (3, total)
    assert len(fed.transport.closed) == 1  # one update (the partial aggregate) made version 1
    assert fed.transport.closed[0].version.lineage.participants == 1
    one = len(Update("x", "simulate", total, 0, ups[0].weights, devices=3).to_blob())
    assert one * 0.9 < log.bytes_up < one * 1.5  # one partial aggregate, not three updates
    assert log.bytes_down == len(fed.transport.strategy.current.to_blob())
    assert bank.version == 1
    for d in bank.devices():
        for a, b in zip(bank.local_update(d).weights, expected, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert bank.local_update(d).samples == 0
    assert fed.round(2, 120.0).participants == 0  # nothing learned since: nothing sent


def test_modes_see_the_same_stream_and_are_deterministic() -> None:
    """Same data and seed: a mode's scores repeat exactly; federated modes log their rounds."""
    r = generate(seed=4, devices=3, days=0.15).readings
    plan = Plan(batch=128, round_seconds=1200.0)
    first = run_mode("personalized", r, ModelConfig(), 0, plan)
    again = run_mode("personalized", r, ModelConfig(), 0, plan)
    np.testing.assert_array_equal(first.score, again.score)
    assert len(first.rounds) == len(plan.cuts(r.time)[1])
    # the first round end is the first batch's end: no device's 30 s cadence clock has run yet
    assert [x.participants for x in first.rounds][:2] == [0, 3]
    assert all(x.participants == 3 for x in first.rounds[1:])
    local = run_mode("local", r, ModelConfig(), 0, plan)
    assert all(x.participants == 0 and x.bytes_up == 0 for x in local.rounds)
    assert local.score.shape == first.score.shape == (len(r),)
