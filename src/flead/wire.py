"""Wire formats: a compact binary codec for weight arrays and the JSON reading codec."""

from __future__ import annotations

import json
import math
import struct
import sys
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "Reading",
    "WireError",
    "decode_arrays",
    "decode_reading",
    "encode_arrays",
    "encode_reading",
    "parse_reading",
]

MAGIC = b"FLD1"
FORMAT_VERSION = 1
_HEAD = struct.Struct("<4sHI")  # magic, format version, meta length
_COUNT = struct.Struct("<I")
_ARRAY = struct.Struct("<BB")  # dtype code, ndim
_CRC = struct.Struct("<I")
_F32_MAX = float(np.finfo(np.float32).max)
_F64_MAX = sys.float_info.max
_CODES: dict[str, int] = {
    "float32": 1, "float64": 2, "float16": 3, "int8": 4, "int16": 5, "int32": 6, "int64": 7,
    "uint8": 8, "uint16": 9, "uint32": 10, "uint64": 11, "bool": 12,
}  # fmt: skip
_DTYPES: dict[int, np.dtype[Any]] = {
    code: np.dtype(name).newbyteorder("<") for name, code in _CODES.items()
}


class WireError(ValueError):
    """A blob or reading that cannot be decoded; `reason` is a short machine-readable cause."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def encode_arrays(arrays: Sequence[np.ndarray], meta: Mapping[str, Any]) -> bytes:
    """Arrays plus a JSON meta header as one blob: header, arrays (little-endian), CRC32 trailer."""
    meta_bytes = json.dumps(dict(meta), separators=(",", ":"), allow_nan=False).encode()
    parts = [_HEAD.pack(MAGIC, FORMAT_VERSION, len(meta_bytes)), meta_bytes]
    parts.append(_COUNT.pack(len(arrays)))
    for array in arrays:
        a = np.asarray(array)
        code = _CODES.get(a.dtype.name)
        if code is None:
            raise WireError("unsupported_dtype", a.dtype.name)
        if a.ndim > 255:
            raise WireError("too_many_dims", str(a.ndim))
        parts.append(_ARRAY.pack(code, a.ndim))
        parts.append(struct.pack(f"<{a.ndim}Q", *a.shape))
        parts.append(np.ascontiguousarray(a, dtype=_DTYPES[code]).tobytes())
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def decode_arrays(blob: bytes) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Inverse of `encode_arrays`; raises WireError(reason) on any corrupt or truncated blob."""
    view = memoryview(blob)
    if len(view) < _HEAD.size + _COUNT.size + _CRC.size:
        raise WireError("truncated", f"{len(view)} bytes is shorter than any blob")
    magic, version, meta_len = _HEAD.unpack_from(view, 0)
    if magic != MAGIC:
        raise WireError("bad_magic", f"expected {MAGIC!r}, got {bytes(magic)!r}")
    if version != FORMAT_VERSION:
        raise WireError(
            "unsupported_version", f"format version {version}, expected {FORMAT_VERSION}"
        )
    (crc,) = _CRC.unpack_from(view, len(view) - _CRC.size)
    if zlib.crc32(view[: len(view) - _CRC.size]) != crc:
        raise WireError("checksum", "CRC32 mismatch: the blob is corrupt or truncated")
    end = len(view) - _CRC.size
    pos = _HEAD.size + meta_len
    if pos + _COUNT.size > end:
        raise WireError("truncated", "meta header runs past the end")
    try:
        meta = json.loads(bytes(view[_HEAD.size : pos]))
    except ValueError as exc:
        raise WireError("bad_meta", str(exc)) from None
    if not isinstance(meta, dict):
        raise WireError("bad_meta", "meta header is not a JSON object")
    (count,) = _COUNT.unpack_from(view, pos)
    pos += _COUNT.size
    arrays: list[np.ndarray] = []
    for i in range(count):
        if pos + _ARRAY.size > end:
            raise WireError("truncated", f"array {i} header runs past the end")
        code, ndim = _ARRAY.unpack_from(view, pos)
        pos += _ARRAY.size
        dtype = _DTYPES.get(code)
        if dtype is None:
            raise WireError("bad_dtype", f"array {i} has unknown dtype code {code}")
        if pos + 8 * ndim > end:
            raise WireError("truncated", f"array {i} shape runs past the end")
        shape = struct.unpack_from(f"<{ndim}Q", view, pos)
        pos += 8 * ndim
        nbytes = math.prod(shape) * dtype.itemsize
        if pos + nbytes > end:
            raise WireError("truncated", f"array {i} data runs past the end")
        data = np.frombuffer(view, dtype=dtype, count=math.prod(shape), offset=pos)
        arrays.append(data.reshape(shape).astype(dtype.newbyteorder("="), copy=True))
        pos += nbytes
    if pos != end:
        raise WireError("trailing_bytes", f"{end - pos} bytes after the last array")
    return arrays, meta


def encode_reading(device: str, time: float, values: Mapping[str, float | None]) -> bytes:
    """One reading as compact JSON; a missing or non-finite value is written as null."""
    clean = {
        k: (None if v is None or not math.isfinite(float(v)) else float(v))
        for k, v in values.items()
    }
    doc = {"device": str(device), "time": float(time), "values": clean}
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


class Reading(NamedTuple):
    """One decoded reading: device id, time, and one float per feature (NaN = missing/null)."""

    device: str
    time: float
    values: list[float]


def _constant(token: str) -> float:
    return math.nan  # NaN / Infinity tokens: reported as non_finite when a field holds one


_JSON = json.JSONDecoder(parse_constant=_constant)


def _syntax(exc: Exception) -> WireError:
    if isinstance(exc, UnicodeDecodeError):
        return WireError("bad_json", f"not UTF-8: {exc}")
    if isinstance(exc, RecursionError):
        return WireError("bad_json", "nested too deeply")
    return WireError("bad_json", str(exc))  # syntax, or an integer beyond Python's digit limit


def _time(value: object) -> float:
    kind = type(value)
    if kind is float or kind is int:
        # exact int/float comparison: a huge int is out of range, never an OverflowError
        if -_F64_MAX <= value <= _F64_MAX:  # type: ignore[operator]
            return float(value)  # type: ignore[arg-type]
        raise WireError("non_finite:time", repr(value)[:40])
    raise WireError("wrong_type:time", f"expected a number, got {kind.__name__}")


def _value(value: object, name: str) -> float:
    kind = type(value)
    if kind is float or kind is int:
        if -_F32_MAX <= value <= _F32_MAX:  # type: ignore[operator]  # NaN fails both
            return float(value)  # type: ignore[arg-type]
        raise WireError(f"non_finite:{name}", f"{repr(value)[:40]} is not a finite float32")
    raise WireError(f"wrong_type:{name}", f"expected a number, got {kind.__name__}")


def parse_reading(raw: bytes, features: Sequence[str]) -> Reading:
    """The one reading decoder (the trainer's hot path too): a Reading, or WireError(reason).

    Reasons: bad_json (not UTF-8, bad syntax, nested too deeply, not an object),
    missing_field:<name>, wrong_type:<name>, bad_text:device (not encodable as UTF-8),
    empty:device, non_finite:<name> (NaN/Infinity tokens, times beyond float64, values beyond
    float32). Integer device ids become strings; keys in "values" not in `features` are ignored.
    """
    try:
        doc = _JSON.decode(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise _syntax(exc) from None
    if type(doc) is not dict:
        raise WireError("bad_json", "a reading must be a JSON object")
    try:
        device, time, values = doc["device"], doc["time"], doc["values"]
    except KeyError:
        missing = next(n for n in ("device", "time", "values") if n not in doc)
        raise WireError(f"missing_field:{missing}") from None
    if type(device) is int:
        device = str(device)
    elif type(device) is not str:
        raise WireError("wrong_type:device", f"expected a string, got {type(device).__name__}")
    elif not device.isascii():
        try:
            device.encode("utf-8")
        except UnicodeEncodeError:
            raise WireError("bad_text:device", "a lone surrogate is not UTF-8") from None
    if not device:
        raise WireError("empty:device")
    t = time if type(time) is float and -_F64_MAX <= time <= _F64_MAX else _time(time)
    if type(values) is not dict:
        raise WireError("wrong_type:values", f"expected an object, got {type(values).__name__}")
    row: list[Any] = [values.get(name) for name in features]
    for i, v in enumerate(row):
        if v is None:
            row[i] = math.nan
        elif type(v) is not float or not -_F32_MAX <= v <= _F32_MAX:  # NaN fails the range
            row[i] = _value(v, features[i])
    return Reading(device, t, row)


def decode_reading(raw: bytes, features: Sequence[str]) -> tuple[str, float, np.ndarray]:
    """`parse_reading` with the values as float32 [len(features)] (NaN for missing/null)."""
    r = parse_reading(raw, features)
    return r.device, r.time, np.array(r.values, dtype=np.float32)
