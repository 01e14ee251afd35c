"""Alarm episodes: greedy 5-minute windows per device, vectorised, and monotone in the threshold."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flead.evaluation.episodes import episode_counts
from flead.evaluation.scores import Truth

pytestmark = pytest.mark.unit


def _reference(codes: np.ndarray, time: np.ndarray, mask: np.ndarray, gap: float) -> list[int]:
    """The greedy rule written as a plain loop (the specification)."""
    out = [0] * (int(codes.max()) + 1)
    until: dict[int, float] = {}
    for c, t, m in zip(codes.tolist(), time.tolist(), mask.tolist(), strict=True):
        if m and t >= until.get(c, -np.inf):
            out[c] += 1
            until[c] = t + gap
    return out


def test_alarms_within_five_minutes_are_one_episode_per_device() -> None:
    """Alarms at 0, 4, 8 minutes: the first two share a window, the third opens one; another
    device's alarm at the same time is its own episode."""
    codes = np.array([0, 0, 0, 1])
    time = np.array([0.0, 240.0, 480.0, 240.0])
    assert episode_counts(codes, time, np.ones(4, bool), 2).tolist() == [2, 1]
    # dropping the middle alarm (a higher threshold) does not split anything: still 2
    assert episode_counts(codes, time, np.array([1, 0, 1, 1], bool), 2).tolist() == [2, 1]
    assert episode_counts(codes, time, np.zeros(4, bool), 2).tolist() == [0, 0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 3000), st.booleans()), min_size=1,
                max_size=80))  # fmt: skip
def test_vectorised_count_equals_the_greedy_loop(rows: list[tuple[int, float, bool]]) -> None:
    """Pointer doubling gives exactly the greedy loop's count for any alarms of any devices."""
    rows.sort(key=lambda r: (r[0], r[1]))
    codes = np.array([r[0] for r in rows])
    time = np.array([r[1] for r in rows])
    mask = np.array([r[2] for r in rows])
    got = episode_counts(codes, time, mask, int(codes.max()) + 1, gap=300.0)
    assert got.tolist() == _reference(codes, time, mask, 300.0)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_false_alarms_never_grow_with_the_threshold(seed: int, a: float, b: float) -> None:
    """Random scores, labels and stream times of three devices: the false-alarm count at the
    higher threshold is never above the count at the lower one."""
    rng = np.random.default_rng(seed)
    n = 300
    device = rng.integers(0, 3, n).astype(str)
    time = np.cumsum(rng.exponential(60.0, n))
    label = rng.random(n) < 0.1
    score = rng.random(n)
    t = Truth.of(device, time, label, None)
    s = score[t.order]
    low, high = min(a, b), max(a, b)
    assert t.false_alarms(s > high) <= t.false_alarms(s > low)
