"""A slice of the synthetic stream through the producer's own Runner: `python -m benchmarks.feed`.

The latency benchmark warms a trainer on the first rows of 2 synthetic days, then measures on
the rows after them (so every device's clock moves forward), at a paced rate. Settings come
from FLEAD_* variables as for `python -m flead_producer`; the slice from the arguments.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from flead_producer.runner import Runner
from flead_producer.settings import load_settings
from flead_producer.sources import load_readings

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Produce rows [skip, skip + rows) of the configured source (synthetic by default)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.feed", description=__doc__)
    parser.add_argument("--skip", type=int, default=0, help="rows of the source to leave out")
    parser.add_argument("--rows", type=int, required=True, help="rows to produce after them")
    args = parser.parse_args(argv)
    s = load_settings()
    r = load_readings(s)
    end = args.skip + args.rows
    if end > len(r):
        parser.error(f"the source has {len(r)} rows, not {end}")
    cut = slice(args.skip, end)
    part = replace(
        r,
        device=r.device[cut],
        time=r.time[cut],
        values=r.values[cut],
        label=None if r.label is None else r.label[cut],
        fault=None if r.fault is None else r.fault[cut],
    )
    Runner(s, {}).run(part)


if __name__ == "__main__":
    main()
