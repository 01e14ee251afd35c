"""One typed result row shared by every benchmark suite, so all of them render and compare alike."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["FIELDS", "Figure", "format_number", "target_met"]


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its same-run baseline.

    `value` is the number the target is about (the p99 of a latency row, requests/s of an
    ingest row); `baseline_value` is in the same `unit`; `ratio` is the suite's comparison of
    the two (its docstring says which way is better); `met` is None when there is no target;
    `detail` is the display of FLEAD's side when more than one number matters.
    """

    benchmark: str
    value: float
    unit: str
    baseline: str
    baseline_value: float | None
    ratio: float | None
    target: str = ""  # empty: no target
    met: bool | None = None
    detail: str = ""

    def as_row(self) -> dict[str, Any]:
        """The JSON row: exactly the fields, a non-finite number (nothing measured) as null."""
        return {key: _finite_or_none(value) for key, value in asdict(self).items()}


FIELDS = tuple(Figure.__dataclass_fields__)


def target_met(
    measured: float, *, at_least: float | None = None, at_most: float | None = None
) -> bool | None:
    """Whether `measured` is within the bound(s), the bound itself included; None when there
    is no bound or nothing was measured (NaN), so a missing number is not reported as met."""
    if at_least is None and at_most is None:
        return None
    if math.isnan(measured):
        return None
    return (at_least is None or measured >= at_least) and (at_most is None or measured <= at_most)


def format_number(number: float) -> str:
    """Readable: three significant digits with M from a million up (9.2M), thousands
    separated without decimals from 100 up (472,312), three significant digits below (0.385),
    `n/a` for NaN."""
    if math.isnan(number):
        return "n/a"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    if abs(number) >= 1e6:
        return f"{number / 1e6:.3g}M"
    if abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:.3g}"


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
