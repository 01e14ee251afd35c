"""Producer settings: the source of readings, pacing, looping and labels (FLEAD_PRODUCER_*)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from flead.settings import KafkaSettings

__all__ = ["ProducerSettings", "load_settings"]

DEFAULT_METRICS_PORT = 9100


class ProducerSettings(KafkaSettings):
    """One validated settings object for the producer process."""

    producer_source: Literal["synthetic", "intel_lab", "csv"] = Field(
        default="synthetic", description="synthetic generator, Intel Lab data.txt, or a CSV file"
    )
    producer_path: str | None = Field(default=None, description="data.txt(.gz) or CSV path")
    producer_labels_path: str | None = Field(
        default=None, description="intel_lab: labels.csv with ground truth (optional)"
    )
    producer_csv_device_column: str = Field(default="device", description="csv: device column")
    producer_csv_time_column: str | None = Field(default=None, description="csv: time column")
    producer_csv_label_column: str | None = Field(default=None, description="csv: 0/1 label")
    producer_csv_features: str | None = Field(
        default=None, description="csv: feature columns (comma list); default every numeric one"
    )
    producer_synth_seed: int = Field(default=0, description="synthetic: seed")
    producer_synth_devices: int = Field(default=54, ge=1, le=54, description="synthetic: motes")
    producer_synth_days: float = Field(default=1.0, gt=0, le=40, description="synthetic: days")
    producer_rate: float = Field(
        default=0.0, ge=0, description="readings per second; 0 = no rate limit"
    )
    producer_speed: float = Field(
        default=0.0, ge=0, description="replay at N x real time of the data's clock; 0 = off"
    )
    producer_loop: bool = Field(default=False, description="start again at the end (times shift)")
    producer_max_readings: int = Field(default=0, ge=0, description="stop after N; 0 = no limit")
    producer_labels: Literal["all", "faults", "none"] = Field(
        default="all", description="ground truth to the labels topic: every row, faults only, none"
    )
    producer_partition_map: str = Field(
        default="", description="device=partition pairs (comma list) overriding the hash"
    )
    producer_progress: bool = Field(
        default=True, description="rich progress bar on a terminal (log lines otherwise)"
    )
    producer_topic_wait_seconds: float = Field(
        default=60.0,
        ge=0,
        description="wait this long for a missing (or too small) topic, then exit 2",
    )
    producer_flush_seconds: float = Field(
        default=30.0, gt=0, description="at the end or on SIGTERM, wait this long for Kafka's "
        "acknowledgements; what is still queued then is not delivered (exit 1)",
    )  # fmt: skip
    producer_create_topics: bool = Field(
        default=True,
        description="create missing topics and grow short ones before producing (as "
        "`python -m flead_producer.topics` does)",
    )

    @property
    def port(self) -> int:
        """Port of /metrics."""
        return self.metrics_port or DEFAULT_METRICS_PORT


def load_settings(**overrides: Any) -> ProducerSettings:
    """Settings from the environment; keyword overrides win."""
    return ProducerSettings(**overrides)
