"""`ModelVersion`: one global version -- spec, number, lineage, named tensors -- and its wire codec."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np

from flead.model.spec import ModelSpec, SpecMismatch
from flead.wire import WireError, decode_arrays, encode_arrays

__all__ = ["Granularity", "Kind", "Lineage", "ModelVersion", "SpecMismatch", "etag_of"]


def etag_of(version: int) -> str:
    """Strong HTTP ETag of a version number (GET /api/global-model, If-None-Match)."""
    return f'"v{version}"'


class Kind(str, Enum):
    """How a version came to be."""

    INITIAL = "initial"
    ROUND = "round"
    ROLLBACK = "rollback"


class Granularity(str, Enum):
    """What a strategy needs from a trainer per round: one partial aggregate, or every device."""

    PARTIAL = "partial"  # weighted mean of its devices' updates + their sample total
    PER_DEVICE = "per_device"  # robust rules must see each device's update


@dataclass(frozen=True)
class Lineage:
    """Where a version comes from: parent, kind, rule, the updates (and samples) it is made of."""

    kind: Kind = Kind.INITIAL
    parent: int | None = None
    rule: str = ""
    created_at: float = 0.0
    update_ids: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()
    samples: int = 0
    rollback_to: int | None = None

    @property
    def participants(self) -> int:
        """How many updates went into the version."""
        return len(self.update_ids)

    def to_meta(self) -> dict[str, Any]:
        """JSON form, as /api/history shows it."""
        out: dict[str, Any] = {
            "update_ids": list(self.update_ids), "devices": sorted(set(self.senders)),
            "samples": self.samples, "participants": self.participants,
        }  # fmt: skip
        if self.rollback_to is not None:
            out["rollback_to"] = self.rollback_to
        return out

    @classmethod
    def from_meta(cls, kind: str, parent: int | None, rule: str, created: float, m: Any) -> Lineage:
        """Inverse of `to_meta` plus the version's top-level fields."""
        m = m if isinstance(m, dict) else {}
        return cls(
            Kind(kind), parent, rule, float(created), tuple(m.get("update_ids", ())),
            tuple(m.get("devices", ())), int(m.get("samples", 0)), m.get("rollback_to"),
        )  # fmt: skip


@dataclass(frozen=True)
class ModelVersion:
    """One global version: the spec, its number, its lineage and the federated tensors.

    `tensors` follow `spec.tensors()` (network weights first; learned statistics the detector
    federates as priors are further named tensors of the spec). `granularity` tells trainers
    what to send for the next version.
    """

    spec: ModelSpec
    version: int
    tensors: tuple[np.ndarray, ...]
    lineage: Lineage = field(default_factory=Lineage)
    granularity: Granularity = Granularity.PARTIAL

    def __post_init__(self) -> None:
        want = [t.shape for t in self.spec.tensors()]
        got = [tuple(np.shape(a)) for a in self.tensors]
        if got != want:
            raise ValueError(f"tensors {got} do not match {self.spec}: expected {want}")

    @classmethod
    def initial(cls, spec: ModelSpec, created_at: float = 0.0, rule: str = "") -> ModelVersion:
        """Version 0: the seeded initial tensors of the spec."""
        tensors = tuple(spec.initial_tensors())
        return cls(spec, 0, tensors, Lineage(Kind.INITIAL, None, rule, created_at))

    def successor(self, tensors: Sequence[np.ndarray], lineage: Lineage) -> ModelVersion:
        """The next version (number + 1) with these tensors and lineage."""
        arrays = tuple(np.asarray(a, np.float32) for a in tensors)
        return replace(self, version=self.version + 1, tensors=arrays, lineage=lineage)

    def check_spec(self, ours: ModelSpec) -> None:
        """Raise SpecMismatch (one line naming both specs) unless this version fits `ours`."""
        if self.spec != ours:
            raise SpecMismatch(ours, self.spec)

    @property
    def weights(self) -> list[np.ndarray]:
        """The tensors as a list (what a DeviceBank's shared part takes)."""
        return list(self.tensors)

    def to_blob(self) -> bytes:
        """The version as a flead.wire blob (spec, number, lineage, granularity in the meta)."""
        lin = self.lineage
        meta = {
            "version": self.version, "spec": self.spec.to_meta(), "kind": lin.kind.value,
            "parent": lin.parent, "rule": lin.rule, "created_at": lin.created_at,
            "lineage": lin.to_meta(), "granularity": self.granularity.value,
            "names": [t.name for t in self.spec.tensors()],
        }  # fmt: skip
        return encode_arrays(self.tensors, meta)

    @classmethod
    def from_blob(cls, blob: bytes) -> ModelVersion:
        """Inverse of `to_blob`; WireError(reason) when the blob is not a model version."""
        arrays, meta = decode_arrays(blob)
        try:
            spec = ModelSpec.from_meta(meta.get("spec"))
            lineage = Lineage.from_meta(
                str(meta.get("kind", "initial")), meta.get("parent"), str(meta.get("rule", "")),
                float(meta.get("created_at", 0.0)), meta.get("lineage"),
            )  # fmt: skip
            return cls(
                spec, int(meta["version"]), tuple(arrays), lineage,
                Granularity(meta.get("granularity", "partial")),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise WireError("bad_version", str(exc)) from None
