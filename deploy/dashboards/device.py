"""Device drill-down: one partition group and the devices in it, templated by group and device."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from .common import base_dashboard, query_variable, row, timeseries_panel

__all__ = ["UID", "build"]

UID = "flead-device"
R = "$__rate_interval"
G = 'group=~"$group"'
D = 'group=~"$group", device=~"$device"'


def build() -> Dashboard:
    """Per-device readings, anomalies, score vs threshold, and the group's trainer health."""
    return (
        base_dashboard(
            UID,
            "FLEAD / Device drill-down",
            "Pick a partition group and devices: their readings, anomalies, anomaly score "
            "against the adaptive threshold, and the health of the trainer that owns them.",
        )
        .with_variable(
            query_variable("group", "Partition group", "label_values(flead_trainer_devices, group)")
        )
        .with_variable(
            query_variable(
                "device",
                "Device",
                'label_values(flead_device_readings_total{group=~"$group"}, device)',
            )
        )
        .with_row(row("Devices"))
        .with_panel(
            timeseries_panel(
                "Readings / s",
                "Readings scored and learned per second, per device.",
                [
                    (
                        f"sum by (device) (rate(flead_device_readings_total{{{D}}}[{R}]))",
                        "{{device}}",
                    )
                ],
                unit="reqps",
                width=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Anomalies / s",
                "Anomalies flagged per second, per device.",
                [
                    (
                        f"sum by (device) (rate(flead_device_anomalies_total{{{D}}}[{R}]))",
                        "{{device}}",
                    )
                ],
                unit="reqps",
                width=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Anomaly score",
                "Latest anomaly score of each device (a reading is anomalous above the threshold).",
                [(f"max by (device) (flead_device_anomaly_score{{{D}}})", "{{device}}")],
                width=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Threshold",
                "Adaptive anomaly threshold of each device's model.",
                [(f"max by (device) (flead_device_threshold{{{D}}})", "{{device}}")],
                width=12,
            )
        )
        .with_row(row("Trainer of the group"))
        .with_panel(
            timeseries_panel(
                "Devices held",
                "Devices the group's trainer holds a model for.",
                [(f"sum by (group) (flead_trainer_devices{{{G}}})", "{{group}}")],
            )
        )
        .with_panel(
            timeseries_panel(
                "Consumer lag by partition",
                "Messages not yet consumed, per partition of the group.",
                [
                    (
                        f"max by (group, partition) (flead_consumer_lag_messages{{{G}}})",
                        "{{group}} p{{partition}}",
                    )
                ],
            )
        )
        .with_panel(
            timeseries_panel(
                "Local training time p95",
                "95th percentile time to score-then-learn one micro-batch.",
                [
                    (
                        "histogram_quantile(0.95, sum by (group, le) "
                        f"(rate(flead_local_training_duration_seconds_bucket{{{G}}}[{R}])))",
                        "{{group}}",
                    )
                ],
                unit="s",
            )
        )
        .with_panel(
            timeseries_panel(
                "Local updates sent / s",
                "Local updates the group's trainer sent to the aggregator, by outcome.",
                [
                    (
                        "sum by (group, outcome) "
                        f"(rate(flead_local_updates_sent_total{{{G}}}[{R}]))",
                        "{{group}} {{outcome}}",
                    )
                ],
                unit="reqps",
            )
        )
        .with_panel(
            timeseries_panel(
                "Global version in use",
                "Global model version the group's trainer adopted last.",
                [(f"max by (group) (flead_trainer_global_version{{{G}}})", "{{group}}")],
            )
        )
        .with_panel(
            timeseries_panel(
                "Checkpoint time p95",
                "95th percentile time to make the group's state durable before committing offsets.",
                [
                    (
                        "histogram_quantile(0.95, sum by (group, le) "
                        f"(rate(flead_checkpoint_duration_seconds_bucket{{{G}}}[{R}])))",
                        "{{group}}",
                    )
                ],
                unit="s",
            )
        )
    )
