"""Operator dashboard: what the operator manages and how its reconciliations go."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from .common import base_dashboard, row, stat_panel, timeseries_panel

__all__ = ["UID", "build"]

UID = "flead-operator"
R = "$__rate_interval"
_BUCKET = "flead_operator_reconcile_duration_seconds_bucket"


def build() -> Dashboard:
    """Devices, groups and trainers under management; reconcile latency, errors, API calls."""
    return (
        base_dashboard(
            UID,
            "FLEAD / Operator",
            "FederatedDevices, partition groups and trainer Deployments the operator manages, "
            "its reconcile latency and errors, and its calls to the Kubernetes API.",
        )
        .with_row(row("Managed objects"))
        .with_panel(
            stat_panel(
                "Devices",
                "FederatedDevice objects the operator knows.",
                "sum(flead_operator_devices)",
                width=6,
            )
        )
        .with_panel(
            stat_panel(
                "Partition groups", "Partition groups.", "sum(flead_operator_groups)", width=6
            )
        )
        .with_panel(
            stat_panel(
                "Trainers",
                "Trainer Deployments the operator owns.",
                "sum(flead_operator_trainers)",
                width=6,
            )
        )
        .with_panel(
            stat_panel(
                "Operator up",
                "1 when Prometheus scrapes the operator.",
                'max(up{job="flead-operator"})',
                width=6,
            )
        )
        .with_panel(
            timeseries_panel(
                "Devices, groups, trainers",
                "Over time: devices, partition groups, trainers.",
                [
                    ("sum(flead_operator_devices)", "devices"),
                    ("sum(flead_operator_groups)", "groups"),
                    ("sum(flead_operator_trainers)", "trainers"),
                ],
                width=24,
            )
        )
        .with_row(row("Reconciliation"))
        .with_panel(
            timeseries_panel(
                "Reconcile latency",
                "p50, p95 and p99 time of one reconciliation.",
                [
                    (f"histogram_quantile(0.5, sum by (le) (rate({_BUCKET}[{R}])))", "p50"),
                    (f"histogram_quantile(0.95, sum by (le) (rate({_BUCKET}[{R}])))", "p95"),
                    (f"histogram_quantile(0.99, sum by (le) (rate({_BUCKET}[{R}])))", "p99"),
                ],
                unit="s",
            )
        )
        .with_panel(
            timeseries_panel(
                "Reconciliations / s",
                "Reconciliations per second.",
                [
                    (
                        f"sum(rate(flead_operator_reconcile_duration_seconds_count[{R}]))",
                        "reconciliations",
                    )
                ],
                unit="reqps",
            )
        )
        .with_panel(
            timeseries_panel(
                "Reconcile errors / s",
                "Failed reconciliations per second (kopf retries them).",
                [(f"sum(rate(flead_operator_reconcile_errors_total[{R}]))", "errors")],
                unit="reqps",
            )
        )
        .with_panel(
            timeseries_panel(
                "Kubernetes API requests / s",
                "Requests the operator sends to the API server, by verb.",
                [
                    (
                        f"sum by (verb) (rate(flead_operator_api_requests_total[{R}]))",
                        "{{verb}}",
                    )
                ],
                unit="reqps",
                width=24,
            )
        )
    )
