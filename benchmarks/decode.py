"""Reading decoders on one micro-batch: the trainer's `decode_batch` beside the candidates, same run.

2,000 synthetic readings as the producer encodes them (54 devices, every 7th humidity null).
Rows: `decode_batch` (msgspec structs taken apart into columns) vs the per-record
`flead.wire.parse_reading` loop it replaced, vs `json.loads` alone (the services benchmark's raw
baseline parse), and the two candidates doing the same work (decode, then device/time/values
columns, no parity checks): msgspec structs, and orjson `loads` plus picking the fields out of
its dicts (when orjson is installed): how the decoder was chosen. Needs no test bed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.figure import Figure
from benchmarks.render import show
from flead.wire import encode_reading, parse_reading
from flead_trainer.decode import Raw, decode_batch

__all__ = ["run"]

FEATURES = ("temperature", "humidity", "light", "voltage")
ROWS = 2000


def _batch() -> list[Raw]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(ROWS):
        values = {
            "temperature": 20 + float(rng.random()),
            "humidity": None if i % 7 == 0 else 40 + float(rng.random()),
            "light": float(rng.random()) * 100,
            "voltage": 2.5 + float(rng.random()) * 0.1,
        }
        raw = encode_reading(str(rng.integers(1, 55)), 1e9 + 31.0 * i, values)
        out.append(Raw(i % 4, i, None, raw))
    return out


def _interleaved(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Best seconds per record of each function, timed in turns (one call each per round), so
    a busy spell on a shared machine hits every candidate alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            started = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - started)
    return [b / ROWS for b in best]


def _orjson(records: list[Raw]) -> Callable[[], object] | None:
    try:
        import orjson
    except ImportError:
        return None
    values = [r.value for r in records]

    def columns() -> object:
        docs = list(map(orjson.loads, values))  # type: ignore[arg-type]
        rows = [[d["values"].get(f) for f in FEATURES] for d in docs]
        table = np.array(rows, dtype=object)
        table[table == None] = np.nan  # noqa: E711 (elementwise)
        return [d["device"] for d in docs], [d["time"] for d in docs], table.astype(np.float32)

    return columns


def _msgspec(records: list[Raw]) -> Callable[[], object]:
    """msgspec into structs plus the same columns as the orjson variant (no parity checks)."""
    import msgspec

    values = [r.value for r in records]
    fields = msgspec.defstruct("Values", [(f, float | None, None) for f in FEATURES])
    decoder = msgspec.json.Decoder(
        msgspec.defstruct("Reading", [("device", str | int), ("time", float), ("values", fields)])
    )

    def columns() -> object:
        docs: list[Any] = list(map(decoder.decode, values))  # type: ignore[arg-type]
        rows = [[getattr(d.values, f) for f in FEATURES] for d in docs]
        table = np.array(rows, dtype=object)
        table[table == None] = np.nan  # noqa: E711 (elementwise)
        return [d.device for d in docs], [d.time for d in docs], table.astype(np.float32)

    return columns


def run(repeat: int = 30) -> list[Figure]:
    """µs per reading of `decode_batch` beside each decoder over the same batch (ratio =
    theirs / ours: > 1 means `decode_batch` is faster)."""
    records = _batch()
    values = [r.value or b"" for r in records]
    candidates: list[tuple[str, Callable[[], object] | None]] = [
        ("flead.wire.parse_reading per record (the decoder replaced)",
         lambda: [parse_reading(v, FEATURES) for v in values]),
        ("json.loads per record, no columns (the services' raw baseline)",
         lambda: [json.loads(v) for v in values]),
        ("orjson.loads + fields into columns", _orjson(records)),
        ("msgspec structs + the same columns (the candidate, no parity checks)", _msgspec(records)),
    ]  # fmt: skip
    present = [(name, fn) for name, fn in candidates if fn is not None]
    times = _interleaved(
        [lambda: decode_batch(records, FEATURES), *(fn for _, fn in present)], repeat
    )
    ours, theirs = times[0], dict(zip((name for name, _ in present), times[1:], strict=True))
    benchmark = f"decode a micro-batch of {ROWS:,} (decode_batch: msgspec, columns)"
    figures = []
    for name, _ in candidates:
        seconds = theirs.get(name)
        figures.append(
            Figure(
                benchmark=benchmark,
                value=ours * 1e6,
                unit="µs/reading",
                baseline=name if seconds is not None else f"{name}: not installed",
                baseline_value=None if seconds is None else seconds * 1e6,
                ratio=None if seconds is None else seconds / ours,
            )
        )
    return figures


if __name__ == "__main__":
    show("decode", run())
