"""The vectorised block parser gives exactly what parse_line gives, line by line, on mangled input."""

import random

import numpy as np
import pytest

from flead.data.intel_lab_fast import parse_block
from flead.data.intel_lab_line import ParsedRow, Rejected, parse_line

pytestmark = pytest.mark.unit

SEEDS = [
    "2004-02-28 00:59:16.02785 3 1 19.9884 37.0933 45.08 2.69964\n",
    "2004-03-31 03:38:15.757551 65528 54 122.153 -3.91901 0.46 2.26\n",
    "2004-02-28 01:00:00 7 10 19.5 37.0  2.6\n",
    "2004-02-29 23:59:59.9 0 28 19.5  0.92 2.6\n",
]
ALPHABET = "0123456789 .:-+eEnaixf\r"


def _mangle(rng: random.Random, line: str) -> str:
    """Delete, insert or replace one to three characters (never the final newline)."""
    chars = list(line.rstrip("\n"))
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(chars) + 1)
        action = rng.random()
        if action < 0.3 and at < len(chars):
            del chars[at]
        elif action < 0.6:
            chars.insert(at, rng.choice(ALPHABET))
        elif at < len(chars):
            chars[at] = rng.choice(ALPHABET)
    return "".join(chars) + "\n"


def test_block_parser_equals_line_parser() -> None:
    """On 3,000 lines (a third intact, the rest mangled) both parsers agree row by row."""
    rng = random.Random(7)
    lines = [
        rng.choice(SEEDS) if i % 3 == 0 else _mangle(rng, rng.choice(SEEDS)) for i in range(3000)
    ]
    lines[-1] = lines[-1].rstrip("\n")  # a last line without newline
    block = parse_block(lines, first_line=100)
    expected = [parse_line(line) for line in lines]
    parsed = [(i, r) for i, r in enumerate(expected) if isinstance(r, ParsedRow)]
    order = np.argsort(block.line)
    assert (block.line[order] - 100).tolist() == [i for i, _ in parsed]
    assert block.mote[order].tolist() == [r.mote for _, r in parsed]
    assert block.time[order].tolist() == [r.time for _, r in parsed]  # bit-identical
    np.testing.assert_array_equal(block.values[order], np.array([r.values for _, r in parsed]))
    reasons: dict[str, int] = {}
    for r in expected:
        if isinstance(r, Rejected):
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
    assert dict(block.rejected) == reasons


def test_fractions_match_python_float() -> None:
    """Seconds with 1..9 fractional digits are the same double as float() gives."""
    rng = random.Random(3)
    lines = []
    for _ in range(500):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
        lines.append(f"2004-03-01 12:34:{rng.randint(0, 59):02d}.{digits} 1 2 20.0 30.0 40.0 2.5\n")
    block = parse_block(lines)
    rows = [parse_line(line) for line in lines]
    assert block.time.tolist() == [r.time for r in rows if isinstance(r, ParsedRow)]


def test_empty_block() -> None:
    """No lines, no rows."""
    block = parse_block([])
    assert len(block.line) == 0
    assert not block.rejected
