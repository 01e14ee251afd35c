"""The issue-10 §3 quality targets, checked against a metrics dict: value, bound, margin, verdict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["BASELINES", "EVENT_RECALL", "FLEAD", "FULL", "check_targets"]

FLEAD = ("local", "federated", "personalized", "no_network", "centralized")
FULL = ("federated", "personalized")  # the targets take the better of the two
BASELINES = ("river_hst", "river_loda", "rules_zscore")
EVENT_RECALL = {"offset": 0.95, "drift": 0.85, "spike": 0.90, "noise": 0.80, "stuck": 0.90,
                "missing": 0.90}  # fmt: skip


def _get(doc: Mapping[str, Any] | None, *keys: str) -> float | None:
    value: Any = doc
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _row(name: str, value: float | None, bound: float | None, higher: bool) -> dict[str, Any]:
    if value is None or bound is None:
        return {"target": name, "value": value, "bound": bound, "margin": None, "met": None}
    margin = value - bound if higher else bound - value
    return {"target": name, "value": value, "bound": bound, "margin": margin, "met": margin >= 0}


def _best(modes: Mapping[str, Any], *keys: str, higher: bool = True) -> tuple[str, float | None]:
    """The better of federated/personalized on one number: (mode label, value)."""
    got = [(m, v) for m in FULL if m in modes and (v := _get(modes, m, *keys)) is not None]
    if not got:
        return "best of federated/personalized (–)", None
    mode, value = (max if higher else min)(got, key=lambda mv: mv[1])
    return f"best of federated/personalized ({mode})", value


def check_targets(
    modes: Mapping[str, Any], cold_start: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every target whose modes were run; `met` is None when a needed number is undefined."""
    out: list[dict[str, Any]] = []
    if any(m in modes for m in FULL):
        for key in ("auc_pr_injected_macro", "auc_pr_excluding_natural"):
            label, value = _best(modes, key)
            out.append(_row(f"{label} {key} >= 0.60", value, 0.60, True))
        for kind, bound in EVENT_RECALL.items():
            label, value = _best(modes, "per_fault_type", kind, "event_recall")
            out.append(_row(f"{label} {kind} event recall >= {bound:.2f}", value, bound, True))
        label, value = _best(modes, "per_fault_type", "natural_stuck", "recall")
        out.append(_row(f"{label} natural_stuck row recall >= 0.99", value, 0.99, True))
        label, value = _best(modes, "false_alarms_per_device_day", higher=False)
        out.append(_row(f"{label} false alarms per device-day <= 1", value, 1.0, False))
        label, value = _best(modes, "alarms_after_fault_end", higher=False)
        out.append(_row(f"{label} alarms_after_fault_end <= 0.05", value, 0.05, False))
        if "no_network" in modes:
            _, full = _best(modes, "auc_pr_injected_macro")
            net = _get(modes, "no_network", "auc_pr_injected_macro")
            out.append(_row("no_network auc_pr_injected_macro <= full - 0.05", net,
                            None if full is None else full - 0.05, False))  # fmt: skip
    cs = (cold_start or {}).get("modes", {})
    if "federated" in cs and "local" in cs:
        local = _get(cs, "local", "auc_pr_injected_macro")
        out.append(_row("cold start: federated auc_pr_injected_macro >= local + 0.10",
                        _get(cs, "federated", "auc_pr_injected_macro"),
                        None if local is None else local + 0.10, True))  # fmt: skip
    base = [v for b in BASELINES if (v := _get(modes, b, "auc_pr_injected_macro")) is not None]
    if base:
        for mode in FLEAD:
            if mode in modes:
                out.append(_row(f"{mode} auc_pr_injected_macro > every baseline",
                                _get(modes, mode, "auc_pr_injected_macro"), max(base), True))  # fmt: skip
    return out
