"""A figure's `met` verdict and its JSON row are computed one way for every suite."""

from __future__ import annotations

import math

import pytest
from benchmarks.figure import FIELDS, Figure, format_number, target_met

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("measured", "expected"), [(0.599, False), (0.6, True), (0.601, True)])
def test_at_least_is_met_from_the_bound_up(measured: float, expected: bool) -> None:
    """A lower bound counts the bound itself as met and anything below it as missed."""
    assert target_met(measured, at_least=0.6) is expected


@pytest.mark.parametrize(("measured", "expected"), [(99.9, True), (100.0, True), (100.1, False)])
def test_at_most_is_met_up_to_the_bound(measured: float, expected: bool) -> None:
    """An upper bound (a latency p99) counts the bound itself as met and anything above as missed."""
    assert target_met(measured, at_most=100.0) is expected


def test_both_bounds_must_hold() -> None:
    """With both bounds the value has to lie inside them, ends included."""
    assert target_met(1.0, at_least=1.0, at_most=2.0) is True
    assert target_met(2.0, at_least=1.0, at_most=2.0) is True
    assert target_met(2.5, at_least=1.0, at_most=2.0) is False
    assert target_met(0.5, at_least=1.0, at_most=2.0) is False


def test_no_bound_or_no_measurement_gives_no_verdict() -> None:
    """Without a target, or when nothing was measured (NaN), `met` is None, never True."""
    assert target_met(5.0) is None
    assert target_met(math.nan, at_most=100.0) is None
    assert target_met(math.nan, at_least=0.6) is None


def test_a_json_row_has_exactly_the_fields_and_no_nan() -> None:
    """`as_row` keeps the field names and types; a NaN (no samples) becomes null, not invalid JSON."""
    figure = Figure("p99", math.nan, "ms", "raw", 12.5, None, "p99 ≤ 100 ms", None)
    row = figure.as_row()
    assert tuple(row) == FIELDS == (
        "benchmark", "value", "unit", "baseline", "baseline_value", "ratio", "target", "met",
        "detail",
    )  # fmt: skip
    assert row["value"] is None
    assert row["baseline_value"] == 12.5
    assert row["detail"] == ""


@pytest.mark.parametrize(
    ("number", "text"),
    [(98_865_028.0, "98.9M"), (472_311.6, "472,312"), (123.4, "123"), (12.345, "12.3"), (0.3851, "0.385"),
     (math.nan, "n/a")],
)  # fmt: skip
def test_numbers_read_at_a_glance(number: float, text: str) -> None:
    """M from a million, thousands separated without decimals from 100 up, 3 digits below."""
    assert format_number(number) == text
