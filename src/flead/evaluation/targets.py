"""The §7 quality targets, checked against a metrics dict: each with its value, margin and verdict."""

from __future__ import annotations

from typing import Any

__all__ = ["check_targets"]

FLEAD = ("local", "federated", "personalized", "centralized")


def _get(modes: dict[str, Any], mode: str, *keys: str) -> float | None:
    value: Any = modes.get(mode)
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return float(value) if isinstance(value, int | float) else None


def _row(name: str, value: float | None, bound: float | None, higher: bool) -> dict[str, Any]:
    if value is None or bound is None:
        return {"target": name, "value": value, "bound": bound, "margin": None, "met": None}
    margin = value - bound if higher else bound - value
    return {"target": name, "value": value, "bound": bound, "margin": margin, "met": margin >= 0}


def check_targets(modes: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target whose modes were run; `met` is None when a needed number is undefined."""
    out = []
    pers = _get(modes, "personalized", "auc_pr")
    cent = _get(modes, "centralized", "auc_pr")
    local = _get(modes, "local", "auc_pr")
    hst = _get(modes, "river_hst", "auc_pr")
    if "personalized" in modes and "centralized" in modes:
        out.append(_row("personalized AUC-PR >= centralized - 0.02", pers,
                        None if cent is None else cent - 0.02, True))  # fmt: skip
    if "personalized" in modes and "local" in modes:
        out.append(_row("personalized AUC-PR >= local", pers, local, True))
    if "river_hst" in modes:
        for mode in FLEAD:
            if mode in modes:
                bound = None if hst is None else hst + 0.10
                out.append(_row(f"{mode} AUC-PR >= river_hst + 0.10", _get(modes, mode, "auc_pr"),
                                bound, True))  # fmt: skip
    for mode in FLEAD:
        if mode not in modes:
            continue
        stuck = _get(modes, mode, "per_fault_type", "natural_stuck", "recall")
        if stuck is not None:
            out.append(_row(f"{mode} natural stuck recall >= 0.99", stuck, 0.99, True))
        alarms = _get(modes, mode, "false_alarms_per_device_day")
        out.append(_row(f"{mode} false alarms per device-day <= 2", alarms, 2.0, False))
    return out
