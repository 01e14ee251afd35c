"""Which devices a trainer serves: the operator's per-group assignment file, parsed and applied."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Assignment",
    "AssignmentFile",
    "DevicePolicy",
    "OncePer",
    "Refusal",
    "Selection",
    "parse_assignment",
    "select",
]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class DevicePolicy:
    """What the operator says of one device: paused, the sensors it reports, model overrides."""

    paused: bool = False
    sensors: tuple[str, ...] | None = None  # None: every feature of the model
    model: Mapping[str, Any] = field(default_factory=dict)  # spec.model, as given


@dataclass(frozen=True)
class Assignment:
    """The devices of this trainer's group by device id; `devices=None` serves every device seen
    on its partitions (the local process stack, where no operator writes an assignment)."""

    devices: Mapping[str, DevicePolicy] | None = None
    revision: str = ""

    def serves(self, device: str) -> bool:
        """Whether this trainer scores, learns from and federates the device."""
        if self.devices is None:
            return True
        policy = self.devices.get(device)
        return policy is not None and not policy.paused

    def keeps(self, device: str) -> bool:
        """Whether the device's state stays in the bank (served or paused, not deleted)."""
        return self.devices is None or device in self.devices


class Refusal(Enum):
    """Why a reading was not served."""

    PAUSED = "paused"
    UNASSIGNED = "unassigned"


def parse_assignment(text: str) -> Assignment:
    """The operator's JSON (`{"version": 1, "revision": ..., "devices": {id: {paused, sensors,
    model}}}`); ValueError naming what is wrong."""
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
        raise ValueError(f"assignment is not a version {FORMAT_VERSION} object")
    raw = doc.get("devices")
    if not isinstance(raw, dict):
        raise ValueError("assignment.devices is not an object")
    devices = {}
    for device, spec in raw.items():
        if not isinstance(spec, dict):
            raise ValueError(f"assignment.devices[{device!r}] is not an object")
        sensors = spec.get("sensors")
        if sensors is not None and not (
            isinstance(sensors, list) and all(isinstance(x, str) for x in sensors)
        ):
            raise ValueError(f"assignment.devices[{device!r}].sensors is not a list of names")
        model = spec.get("model") or {}
        if not isinstance(model, dict):
            raise ValueError(f"assignment.devices[{device!r}].model is not an object")
        devices[str(device)] = DevicePolicy(
            paused=bool(spec.get("paused", False)),
            sensors=tuple(sensors) if sensors is not None else None,
            model=model,
        )
    return Assignment(devices, str(doc.get("revision", "")))


@dataclass(frozen=True)
class Selection:
    """One batch's rows split by the assignment."""

    keep: np.ndarray  # bool per row: served
    refused: dict[str, Refusal]  # device -> why its rows were not served
    mask: np.ndarray  # bool [rows, features]: True where a served row's value must be ignored


def select(devices: np.ndarray, features: Sequence[str], a: Assignment) -> Selection:
    """Served rows, refused devices, and the features each served row's device does not report."""
    n = len(devices)
    keep = np.ones(n, dtype=bool)
    mask = np.zeros((n, len(features)), dtype=bool)
    refused: dict[str, Refusal] = {}
    if a.devices is None:
        return Selection(keep, refused, mask)
    absent: dict[str, np.ndarray] = {}
    for i, device in enumerate(devices.tolist()):
        policy = a.devices.get(device)
        if policy is None or policy.paused:
            keep[i] = False
            refused[device] = Refusal.UNASSIGNED if policy is None else Refusal.PAUSED
        elif policy.sensors is not None:
            if device not in absent:
                absent[device] = np.array([f not in policy.sensors for f in features])
            mask[i] = absent[device]
    return Selection(keep, refused, mask)


class AssignmentFile:
    """The assignment file the operator's ConfigMap is mounted as; re-read when its bytes change."""

    def __init__(self, path: str) -> None:
        self.path = Path(path) if path else None
        self._text: str | None = None

    def read(self) -> Assignment | None:
        """A new Assignment when the file changed, else None; no path = serve everything once.

        A missing or unreadable file, or one that does not parse, raises (the caller keeps the
        assignment it has and logs the error).
        """
        if self.path is None:
            if self._text is None:
                self._text = ""
                return Assignment()
            return None
        text = self.path.read_text()
        if text == self._text:
            return None
        assignment = parse_assignment(text)
        self._text = text
        return assignment


class OncePer:
    """Says yes at most once per `seconds` per key (a log line per unserved device a minute)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: dict[str, float] = {}

    def due(self, key: str, now: float) -> bool:
        """True (and remembered) when `key` was not due within the last `seconds`."""
        last = self._last.get(key)
        if last is not None and now - last < self.seconds:
            return False
        self._last[key] = now
        if len(self._last) > 100_000:  # forget the oldest half: bounded memory, still rate-limited
            for k in sorted(self._last, key=self._last.__getitem__)[: len(self._last) // 2]:
                del self._last[k]
        return True
