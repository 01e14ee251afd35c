"""Decoder parity: the trainer's batch decoder accepts, rejects and names reasons as flead.wire does."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flead.wire import WireError, decode_reading
from flead_trainer.decode import Raw, decode_batch

pytestmark = pytest.mark.unit

FEATURES = ("temperature", "humidity", "light")

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e300, -1e300, 3.5e38, 3.4028235e38, 1e39, 1e-320, -0.0]),
    st.integers(),
    st.sampled_from([10**39, -(10**39), 10**400, 2**1024]),
)
_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
_field = st.one_of(_numbers, _junk)


def _literal(value: object) -> str:
    """JSON text of a value, with Python's NaN/Infinity tokens for non-finite floats."""
    return json.dumps(value, allow_nan=True)


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    """A reading-shaped JSON object whose fields may be missing, mistyped or out of range."""
    parts = []
    device = draw(st.one_of(st.text(min_size=0, max_size=4), st.integers(), _junk, _numbers))
    time = draw(_field)
    values = draw(st.dictionaries(st.sampled_from((*FEATURES, "other")), _field, max_size=4))
    for name, value in (("device", device), ("time", time)):
        if draw(st.booleans()) or draw(st.booleans()):
            parts.append(f"{_literal(name)}:{_literal(value)}")
    if draw(st.integers(0, 3)):
        body = ",".join(f"{_literal(k)}:{_literal(v)}" for k, v in values.items())
        parts.append(f'"values":{{{body}}}')
    return ("{" + ",".join(draw(st.permutations(parts))) + "}").encode()


_records = st.one_of(
    _documents(),
    _documents().map(lambda b: b.decode().encode("utf-16")),  # valid JSON, not UTF-8
    _documents().map(lambda b: b.replace(b'"', b'"\xff', 1)),  # invalid UTF-8 inside a string
    st.integers(1, 5000).map(lambda n: b'{"device":"1","time":1,"values":' + b"[" * n),
    st.integers(1, 100_000).map(lambda n: b"[" * n + b"]" * n),  # deep nesting
    st.just(b'{"device":"1","time":1,"values":{"light":' + b"9" * 5000 + b"}}"),
    st.just(b'{"device":"\\ud800","time":1,"values":{}}'),  # lone surrogate
    st.binary(max_size=40),
    st.text(max_size=40).map(str.encode),
)


def _wire(raw: bytes) -> tuple[str, float, list[float]] | str:
    """flead.wire's verdict: the decoded reading or the reject reason."""
    try:
        device, time, values = decode_reading(raw, FEATURES)
    except WireError as exc:
        return exc.reason
    return device, time, values.tolist()


def _trainer(raw: bytes) -> tuple[str, float, list[float]] | str:
    """The trainer's verdict on the same record, through its batch decoder."""
    d = decode_batch([Raw(0, 0, None, raw)], FEATURES)
    if d.dead:
        return d.dead[0].reason
    return str(d.device[0]), float(d.time[0]), d.values[0].tolist()


def _same(a: tuple[str, float, list[float]] | str, b: tuple[str, float, list[float]] | str) -> bool:
    """Equal verdicts, NaN equal to NaN."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return a[:2] == b[:2] and np.array_equal(np.array(a[2]), np.array(b[2]), equal_nan=True)


@settings(max_examples=600, deadline=None)
@given(_records)
def test_trainer_and_wire_agree_on_every_record(raw: bytes) -> None:
    """Same accept/reject and reason (or same values) from both decoders, and never a crash."""
    wire, trainer = _wire(raw), _trainer(raw)
    assert _same(wire, trainer), (raw[:80], wire, trainer)
    if not isinstance(trainer, str):
        values = np.array(trainer[2], dtype=np.float32)
        assert not np.isinf(values).any(), "an accepted reading must be finite in float32"
        assert math.isfinite(trainer[1])


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"device":"1","time":1,"values":{"temperature":1e300}}', "non_finite:temperature"),
        (b'{"device":"1","time":1,"values":{"humidity":1e39}}', "non_finite:humidity"),
        (b'{"device":"1","time":1,"values":{"light":' + b"1" * 400 + b"}}", "non_finite:light"),
        (b'{"device":"1","time":' + b"1" * 400 + b',"values":{}}', "non_finite:time"),
        (b'{"device":"1","time":1,"values":{"light":NaN}}', "non_finite:light"),
        (b'{"device":"1","time":1,"values":{"light":true}}', "wrong_type:light"),
        (b"[" * 100_000 + b"]" * 100_000, "bad_json"),
        ('{"device":"é","time":1,"values":{}}'.encode("latin-1"), "bad_json"),
        ('{"device":"1","time":1,"values":{}}'.encode("utf-16"), "bad_json"),
        (b'{"device":"\\udc00","time":1,"values":{}}', "bad_text:device"),
    ],
)
def test_known_bad_records_are_dead_with_their_reason(raw: bytes, reason: str) -> None:
    """Overflow, huge ints, NaN, wrong types, deep nesting, non-UTF-8: dead, with wire's reason."""
    assert _trainer(raw) == reason == _wire(raw)


def test_edge_of_float32_is_accepted() -> None:
    """The largest float32 and subnormal underflow are valid values, not dead letters."""
    raw = b'{"device":"1","time":1,"values":{"temperature":3.4028234663852886e38,"light":1e-320}}'
    verdict = _trainer(raw)
    assert not isinstance(verdict, str), verdict
    values = verdict[2]
    assert values[0] == float(np.finfo(np.float32).max)
    assert values[2] == 0.0


_good = st.builds(
    lambda device, time, values: json.dumps(
        {"device": device, "time": time, "values": values}
    ).encode(),
    st.one_of(st.sampled_from(["1", "54", "mote-é"]), st.integers(0, 10**6)),
    st.one_of(st.floats(-1e12, 1e12), st.integers(0, 2**40)),
    st.dictionaries(
        st.sampled_from(FEATURES),
        st.one_of(st.none(), st.floats(-3.4e38, 3.4e38), st.integers(-(2**70), 2**70)),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_good, _good, _good, _records), min_size=1, max_size=60))
def test_a_batch_decodes_as_its_records_do_one_by_one(raws: list[bytes]) -> None:
    """Mostly good readings with bad ones among them (the fast columns, split around the bad
    records): every row keeps flead.wire's verdict, in order, and partitions/offsets follow."""
    d = decode_batch([Raw(i % 3, 100 + i, None, raw) for i, raw in enumerate(raws)], FEATURES)
    verdicts = [_wire(raw) for raw in raws]
    good = [i for i, v in enumerate(verdicts) if not isinstance(v, str)]
    assert [r.reason for r in d.dead] == [v for v in verdicts if isinstance(v, str)]
    assert [r.raw.offset - 100 for r in d.dead] == [i for i in range(len(raws)) if i not in good]
    assert d.offset.tolist() == [100 + i for i in good]
    assert d.partition.tolist() == [i % 3 for i in good]
    for row, i in enumerate(good):
        got = (str(d.device[row]), float(d.time[row]), d.values[row].tolist())
        assert _same(verdicts[i], got), (raws[i][:80], verdicts[i], got)
    assert d.values.dtype == np.float32
    assert d.values.shape == (len(good), len(FEATURES))
