"""The in-process runner: scored windows, stream cuts, aggregation rounds, identical inputs per mode."""

import numpy as np
import pytest

from flead.data.synth import generate
from flead.model import DeviceBank, ModelConfig
from flead.simulation.federate import aggregate_round
from flead.simulation.modes import MODES, make_bank, parse_modes
from flead.simulation.runner import Plan, run_mode
from flead.simulation.source import scored_mask
from flead.wire import decode_arrays, encode_arrays

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


def test_aggregate_round_fedavgs_and_counts_encoded_bytes() -> None:
    """After a round every device holds the same shared weights; bytes = real encoded sizes."""
    bank = make_bank("federated", ("temperature", "humidity", "light", "voltage"), ModelConfig(), 0)
    _feed(bank)
    expected = sum(
        len(
            encode_arrays(
                bank.local_update(d).weights, {"device": d, "samples": 1, "base_version": 0}
            )
        )
        for d in bank.devices()
    )
    _feed(bank, seed=2)  # local_update above reset the sample counts: learn again
    log = aggregate_round(bank, 1, 0.0)
    assert log.participants == 3
    assert log.bytes_up == pytest.approx(expected, rel=0.01)
    assert log.bytes_down > 0
    shared = [bank.local_update(d).weights for d in bank.devices()]
    for other in shared[1:]:
        for a, b in zip(shared[0], other, strict=True):
            np.testing.assert_array_equal(a, b)
    arrays, _ = decode_arrays(encode_arrays(shared[0], {"version": bank.version}))
    assert len(arrays) == len(shared[0])


def test_modes_see_the_same_stream_and_are_deterministic() -> None:
    """Same data and seed: a mode's scores repeat exactly; federated modes log their rounds."""
    r = generate(seed=4, devices=3, days=0.15).readings
    plan = Plan(batch=128, round_seconds=1200.0)
    first = run_mode("personalized", r, ModelConfig(), 0, plan)
    again = run_mode("personalized", r, ModelConfig(), 0, plan)
    np.testing.assert_array_equal(first.score, again.score)
    assert len(first.rounds) == len(plan.cuts(r.time)[1])
    assert all(x.participants == 3 for x in first.rounds)
    local = run_mode("local", r, ModelConfig(), 0, plan)
    assert all(x.participants == 0 and x.bytes_up == 0 for x in local.rounds)
    assert local.score.shape == first.score.shape == (len(r),)
