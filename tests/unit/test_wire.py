"""flead.wire: weight blobs round-trip exactly and reject corruption; the reading codec's reasons."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from flead.wire import WireError, decode_arrays, decode_reading, encode_arrays, encode_reading

pytestmark = pytest.mark.unit

FEATURES = ("temperature", "humidity", "light", "voltage")
DTYPES = ["float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "bool"]


@settings(max_examples=60, deadline=None)
@given(
    arrays=st.lists(
        st.sampled_from(DTYPES).flatmap(
            lambda dt: hnp.arrays(
                np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=4, max_side=5)
            )
        ),
        max_size=5,
    )
)
def test_arrays_round_trip(arrays: list[np.ndarray]) -> None:
    """Any dtype/shape (scalars and empty arrays included) decodes to identical arrays and meta."""
    meta = {"version": 3, "device": "12", "nested": {"a": [1, 2]}}
    got, got_meta = decode_arrays(encode_arrays(arrays, meta))
    assert got_meta == meta
    assert len(got) == len(arrays)
    for a, b in zip(arrays, got, strict=True):
        assert (a.dtype, a.shape) == (b.dtype, b.shape)
        np.testing.assert_array_equal(a, b)
        assert b.flags.writeable


def _blob() -> bytes:
    return encode_arrays([np.arange(12, dtype=np.float32).reshape(3, 4)], {"v": 1})


def test_every_truncation_is_rejected() -> None:
    """Cutting the blob anywhere raises WireError (never a wrong array)."""
    blob = _blob()
    for cut in range(len(blob)):
        with pytest.raises(WireError) as err:
            decode_arrays(blob[:cut])
        assert err.value.reason in {"truncated", "checksum", "bad_magic"}


def test_bit_flips_are_rejected() -> None:
    """Any flipped byte is caught by the checksum (or the magic check)."""
    blob = _blob()
    for i in range(len(blob)):
        broken = bytearray(blob)
        broken[i] ^= 0x01
        with pytest.raises(WireError):
            decode_arrays(bytes(broken))


def test_reasons_for_wrong_magic_and_version() -> None:
    """Another format or a future version is named as such."""
    blob = _blob()
    with pytest.raises(WireError, match="bad_magic"):
        decode_arrays(b"XXXX" + blob[4:])
    with pytest.raises(WireError, match="unsupported_version"):
        decode_arrays(blob[:4] + struct.pack("<H", 99) + blob[6:])


def test_unsupported_dtype_is_refused_when_encoding() -> None:
    """Object or string arrays cannot be sent (no pickle)."""
    with pytest.raises(WireError, match="unsupported_dtype"):
        encode_arrays([np.array(["a"], dtype=object)], {})


def test_reading_round_trip() -> None:
    """encode_reading -> decode_reading keeps device, time, values; None/NaN become NaN."""
    raw = encode_reading(
        "12", 1077929956.02, {"temperature": 19.9, "light": None, "humidity": float("nan")}
    )
    device, time, values = decode_reading(raw, FEATURES)
    assert (device, time) == ("12", 1077929956.02)
    assert values.dtype == np.float32
    assert values[0] == np.float32(19.9)
    assert np.isnan(values[1:]).all()
    assert b" " not in raw


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[1, 2]", "bad_json"),
        (b'{"time": 1, "values": {}}', "missing_field:device"),
        (b'{"device": "1", "values": {}}', "missing_field:time"),
        (b'{"device": "1", "time": 1}', "missing_field:values"),
        (b'{"device": 1.5, "time": 1, "values": {}}', "wrong_type:device"),
        (b'{"device": "", "time": 1, "values": {}}', "empty:device"),
        (b'{"device": "1", "time": "now", "values": {}}', "wrong_type:time"),
        (b'{"device": "1", "time": true, "values": {}}', "wrong_type:time"),
        (b'{"device": "1", "time": NaN, "values": {}}', "non_finite:time"),
        (b'{"device": "1", "time": 1, "values": [1]}', "wrong_type:values"),
        (b'{"device": "1", "time": 1, "values": {"light": "dark"}}', "wrong_type:light"),
        (
            b'{"device": "1", "time": 1, "values": {"temperature": Infinity}}',
            "non_finite:temperature",
        ),
        (b'{"device": "1", "time": 1, "values": {"voltage": 1e300}}', "non_finite:voltage"),
    ],
)
def test_reading_rejections_name_the_reason(raw: bytes, reason: str) -> None:
    """Every malformed reading raises WireError whose .reason the trainer puts in its header."""
    with pytest.raises(WireError) as err:
        decode_reading(raw, FEATURES)
    assert err.value.reason == reason


def test_integer_device_ids_and_extra_keys_are_accepted() -> None:
    """A numeric device id becomes a string; keys outside the features are ignored."""
    raw = json.dumps({"device": 7, "time": 3, "values": {"temperature": 1, "other": 5}}).encode()
    device, time, values = decode_reading(raw, FEATURES)
    assert (device, time, values[0]) == ("7", 3.0, 1.0)
    assert np.isnan(values[1])
