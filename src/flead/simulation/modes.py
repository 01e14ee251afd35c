"""The evaluation modes of `flead simulate` and the DeviceBank each FLEAD mode runs on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from flead.model import DeviceBank, ModelConfig

__all__ = [
    "BASELINE_MODES",
    "FEDERATED_MODES",
    "FLEAD_MODES",
    "MODES",
    "RIVER_MODES",
    "make_bank",
    "parse_modes",
]

FLEAD_MODES = ("local", "federated", "personalized", "no_network", "centralized")
FEDERATED_MODES = ("federated", "personalized", "no_network")
RIVER_MODES = ("river_hst", "river_loda")  # run in worker processes
BASELINE_MODES = (*RIVER_MODES, "rules_zscore")
MODES = FLEAD_MODES + BASELINE_MODES

DESCRIPTION = {
    "local": "one network per device, never federated",
    "federated": "FedAvg of whole networks each round; devices adopt the global model as-is",
    "personalized": "FedAvg of the shared layers; each device keeps its own output head and fine-tunes",
    "no_network": "personalized with the network's output ignored: the full system minus the network",
    "centralized": "one network of the same architecture trained on every device's rows",
    "river_hst": "River HalfSpaceTrees per device, features scaled by the warm-up's ranges",
    "river_loda": "River LODA per device, features standardised by the warm-up",
    "rules_zscore": "physical range rules plus a per-device rolling z-score per channel",
}


LOCAL_OFF: dict[str, Any] = {
    "pool_fleet": False
}  # what `local` turns off: any sharing between a bank's devices


def local_config(config: ModelConfig) -> ModelConfig:
    """`config` with every switch that lets a bank's devices share statistics turned off."""
    names = {f.name for f in fields(config)}
    return replace(config, **{k: v for k, v in LOCAL_OFF.items() if k in names})


def parse_modes(text: str) -> tuple[str, ...]:
    """Comma list of modes, in canonical order; ValueError naming an unknown one."""
    asked = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in asked if m not in MODES]
    if unknown:
        raise ValueError(f"unknown mode {unknown[0]!r}; choose from {', '.join(MODES)}")
    if not asked:
        raise ValueError(f"no mode given; choose from {', '.join(MODES)}")
    return tuple(m for m in MODES if m in asked)


def make_bank(mode: str, features: Sequence[str], config: ModelConfig, seed: int) -> DeviceBank:
    """The bank of a FLEAD mode: every mode starts from the same initial weights (same seed)."""
    if mode == "federated":
        return DeviceBank(features, replace(config, personal_head=False), seed=seed)
    if mode == "personalized":
        return DeviceBank(features, replace(config, personal_head=True), seed=seed)
    if mode == "no_network":
        return DeviceBank(features, replace(config, personal_head=True, network=False), seed=seed)
    if mode == "centralized":
        return DeviceBank(features, config, seed=seed, pooled=True)
    if mode == "local":
        return DeviceBank(features, local_config(config), seed=seed)
    raise ValueError(f"{mode!r} is not a FLEAD mode; choose from {', '.join(FLEAD_MODES)}")
