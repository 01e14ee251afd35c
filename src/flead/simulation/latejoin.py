"""Cold start: a seeded share of the devices joins the stream at a third of the run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flead.data.records import Readings

__all__ = ["LateJoin", "late_join"]

JOIN_AT = 1.0 / 3.0  # share of the run's span after which the late joiners' rows begin


@dataclass(frozen=True)
class LateJoin:
    """Which devices join late and when (stream time); their earlier rows were dropped."""

    join_time: float
    devices: tuple[str, ...]


def late_join(r: Readings, fraction: float, seed: int) -> tuple[Readings, LateJoin | None]:
    """Pick round(fraction x devices) devices (at least one, never all) with `seed` and drop
    their rows before a third of the run; (readings, None) when fraction is 0 or there are fewer
    than two devices."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"--late-joiners is a share of the devices in [0, 1), got {fraction:g}")
    if fraction == 0.0 or len(r) == 0:
        return r, None
    names = r.devices()
    k = min(max(1, round(fraction * len(names))), len(names) - 1)
    if k < 1:
        return r, None
    rng = np.random.default_rng([seed, 0x1A7E])
    chosen = tuple(sorted(rng.choice(names, size=k, replace=False).tolist(), key=names.index))
    join = float(r.time[0] + JOIN_AT * (r.time[-1] - r.time[0]))
    late = np.isin(r.device.astype(str), chosen)
    return r.take(~(late & (r.time < join))), LateJoin(join, chosen)
