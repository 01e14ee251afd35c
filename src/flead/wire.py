"""Wire formats: a compact binary codec for weight arrays and the JSON reading codec."""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "WireError",
    "decode_arrays",
    "decode_reading",
    "encode_arrays",
    "encode_reading",
]

MAGIC = b"FLD1"
FORMAT_VERSION = 1
_HEAD = struct.Struct("<4sHI")  # magic, format version, meta length
_COUNT = struct.Struct("<I")
_ARRAY = struct.Struct("<BB")  # dtype code, ndim
_CRC = struct.Struct("<I")
_F32_MAX = float(np.finfo(np.float32).max)
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


def _reject_constant(token: str) -> float:
    return math.nan  # NaN / Infinity tokens: reported below as non_finite


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"wrong_type:{name}", f"expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise WireError(f"non_finite:{name}", repr(value))
    return number


def decode_reading(raw: bytes, features: Sequence[str]) -> tuple[str, float, np.ndarray]:
    """(device, time, values float32 [len(features)] with NaN for missing/null) or WireError(reason).

    Reasons: bad_json, missing_field:<name>, wrong_type:<name>, non_finite:<name>, empty:device.
    Keys in "values" that are not in `features` are ignored.
    """
    try:
        doc = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError("bad_json", str(exc)) from None
    if not isinstance(doc, dict):
        raise WireError("bad_json", "a reading must be a JSON object")
    for name in ("device", "time", "values"):
        if name not in doc:
            raise WireError(f"missing_field:{name}")
    device = doc["device"]
    if isinstance(device, int) and not isinstance(device, bool):
        device = str(device)
    if not isinstance(device, str):
        raise WireError("wrong_type:device", f"expected a string, got {type(device).__name__}")
    if not device:
        raise WireError("empty:device")
    time = _number(doc["time"], "time")
    values = doc["values"]
    if not isinstance(values, dict):
        raise WireError("wrong_type:values", f"expected an object, got {type(values).__name__}")
    out = np.full(len(features), np.nan, dtype=np.float32)
    for i, name in enumerate(features):
        value = values.get(name)
        if value is not None:
            number = _number(value, name)
            if abs(number) > _F32_MAX:
                raise WireError(f"non_finite:{name}", f"{value!r} overflows float32")
            out[i] = number
    return device, time, out
