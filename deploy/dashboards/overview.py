"""Overview dashboard: the stream (readings, anomalies, dead letters, lag) and the federation."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from .common import base_dashboard, row, stat_panel, timeseries_panel

__all__ = ["UID", "build"]

UID = "flead-overview"
R = "$__rate_interval"


def build() -> Dashboard:
    """Overview of one FLEAD installation: is data flowing, is the global model improving."""
    return (
        base_dashboard(
            UID,
            "FLEAD / Overview",
            "Readings flowing through Kafka, anomalies found, dead letters, consumer lag, "
            "and the federation: rounds, participants, staleness, global loss and version.",
        )
        .with_row(row("Now"))
        .with_panel(
            stat_panel(
                "Global model version",
                "Version of the current global model in the aggregator's registry.",
                "max(flead_global_model_version)",
            )
        )
        .with_panel(
            stat_panel(
                "Rounds completed",
                "Aggregation rounds completed since the aggregator started.",
                "sum(flead_rounds_completed_total)",
            )
        )
        .with_panel(
            stat_panel(
                "Devices",
                "Devices the trainers currently hold a model for.",
                "sum(flead_trainer_devices)",
            )
        )
        .with_panel(
            stat_panel(
                "Readings / s",
                "Readings consumed per second by all trainers.",
                f"sum(rate(flead_readings_consumed_total[{R}]))",
                unit="reqps",
            )
        )
        .with_panel(
            stat_panel(
                "Anomalies / s",
                "Anomalies flagged per second by all trainers.",
                f"sum(rate(flead_anomalies_total[{R}]))",
                unit="reqps",
            )
        )
        .with_panel(
            stat_panel(
                "Max consumer lag",
                "Largest lag (messages) of any trainer partition.",
                "max(flead_consumer_lag_messages)",
            )
        )
        .with_row(row("Stream"))
        .with_panel(
            timeseries_panel(
                "Readings / s",
                "Produced by the producer vs consumed by the trainers, by partition group.",
                [
                    (f"sum(rate(flead_readings_produced_total[{R}]))", "produced"),
                    (
                        f"sum by (group) (rate(flead_readings_consumed_total[{R}]))",
                        "consumed {{group}}",
                    ),
                ],
                unit="reqps",
            )
        )
        .with_panel(
            timeseries_panel(
                "Anomalies / s",
                "Anomalies flagged per second, by partition group.",
                [(f"sum by (group) (rate(flead_anomalies_total[{R}]))", "{{group}}")],
                unit="reqps",
            )
        )
        .with_panel(
            timeseries_panel(
                "Dead letters / s",
                "Malformed readings sent to flead.dead-letter, by reason.",
                [(f"sum by (reason) (rate(flead_dead_letters_total[{R}]))", "{{reason}}")],
                unit="reqps",
            )
        )
        .with_panel(
            timeseries_panel(
                "Consumer lag",
                "Messages of flead.readings not yet consumed, by partition group.",
                [("sum by (group) (flead_consumer_lag_messages)", "{{group}}")],
                width=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Producer delivery errors / s",
                "Readings the producer failed to deliver to Kafka.",
                [(f"sum(rate(flead_producer_delivery_errors_total[{R}]))", "errors")],
                unit="reqps",
                width=12,
            )
        )
        .with_row(row("Federation"))
        .with_panel(
            timeseries_panel(
                "Rounds / min",
                "Aggregation rounds completed per minute.",
                [(f"sum(rate(flead_rounds_completed_total[{R}])) * 60", "rounds")],
            )
        )
        .with_panel(
            timeseries_panel(
                "Round participants",
                "Local updates aggregated into the last round.",
                [("max(flead_round_participants)", "participants")],
            )
        )
        .with_panel(
            timeseries_panel(
                "Local updates / s",
                "Updates received by the aggregator, by outcome (accepted, stale, rejected, duplicate).",
                [(f"sum by (outcome) (rate(flead_updates_total[{R}]))", "{{outcome}}")],
                unit="reqps",
            )
        )
        .with_panel(
            timeseries_panel(
                "Update staleness",
                "How many global versions behind the accepted updates were (p50, p95).",
                [
                    (
                        "histogram_quantile(0.5, sum by (le) "
                        f"(rate(flead_update_staleness_versions_bucket[{R}])))",
                        "p50",
                    ),
                    (
                        "histogram_quantile(0.95, sum by (le) "
                        f"(rate(flead_update_staleness_versions_bucket[{R}])))",
                        "p95",
                    ),
                ],
            )
        )
        .with_panel(
            timeseries_panel(
                "Global model loss",
                "Loss of the global model as evaluated by the aggregator.",
                [("max(flead_global_model_loss)", "loss")],
            )
        )
        .with_panel(
            timeseries_panel(
                "Global model version",
                "The aggregator's version and the version each trainer group runs.",
                [
                    ("max(flead_global_model_version)", "aggregator"),
                    ("max by (group) (flead_trainer_global_version)", "trainer {{group}}"),
                ],
            )
        )
        .with_panel(
            timeseries_panel(
                "Aggregation and round duration",
                "p95 time to aggregate a round, and p95 wall time of a round.",
                [
                    (
                        "histogram_quantile(0.95, sum by (le) "
                        f"(rate(flead_aggregation_duration_seconds_bucket[{R}])))",
                        "aggregation p95",
                    ),
                    (
                        "histogram_quantile(0.95, sum by (le) "
                        f"(rate(flead_round_duration_seconds_bucket[{R}])))",
                        "round p95",
                    ),
                ],
                unit="s",
                width=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Samples aggregated / s",
                "Training samples behind the aggregated updates (FedAvg weights).",
                [(f"sum(rate(flead_aggregated_samples_total[{R}]))", "samples")],
                width=12,
            )
        )
    )
