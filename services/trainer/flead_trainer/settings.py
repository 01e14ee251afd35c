"""Trainer settings: the partition group it owns, micro-batching, federation cadence (FLEAD_*)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr

from flead.settings import KafkaSettings, ModelSettings, MongoSettings

__all__ = ["TrainerSettings", "load_settings"]

DEFAULT_METRICS_PORT = 9101


class TrainerSettings(KafkaSettings, MongoSettings, ModelSettings):
    """One validated settings object for a trainer process (the operator sets the group fields)."""

    partitions: str = Field(
        default="0", description="partitions of the readings topic (comma list)"
    )
    partition_group: str = Field(default="group-0", description="name of this partition group")
    consumer_group: str = Field(
        default="flead-trainer-group-0", description="Kafka consumer group of committed offsets"
    )
    aggregator_url: str = Field(default="http://127.0.0.1:8000", description="aggregator base URL")
    aggregator_token: SecretStr | None = Field(default=None, description="bearer token for writes")
    trainer_token_file: str = Field(
        default="",
        description="file holding the bearer token, re-read before each request (the operator "
        "sets it to the group's projected ServiceAccount token); empty = FLEAD_AGGREGATOR_TOKEN",
    )
    trainer_batch_size: int = Field(
        default=2000, ge=1, le=100_000, description="max readings per micro-batch"
    )
    trainer_poll_timeout_seconds: float = Field(
        default=0.02, gt=0, description="longest wait for a micro-batch to fill"
    )
    trainer_update_every_samples: int = Field(
        default=500, ge=1, description="send a device's local update after this many new samples"
    )
    trainer_update_every_seconds: float = Field(
        default=30.0, gt=0, description="...or after this long, if it learned anything"
    )
    trainer_model_poll_seconds: float = Field(
        default=5.0, gt=0, description="how often to ask for a new global model (ETag)"
    )
    trainer_checkpoint_seconds: float = Field(
        default=1.0, gt=0, description="checkpoint (then commit) at most this long after a batch"
    )
    trainer_assignment_file: str = Field(
        default="",
        description="the operator's device assignment (a mounted ConfigMap); empty = serve every "
        "device on the partitions",
    )
    trainer_assignment_poll_seconds: float = Field(
        default=5.0, gt=0, description="how often the assignment file is re-read"
    )
    trainer_http_timeout_seconds: float = Field(default=3.0, gt=0, description="aggregator timeout")
    trainer_aggregator_backoff_max_seconds: float = Field(
        default=30.0,
        gt=0,
        description="longest wait before an undelivered update is sent again (from 1 s, doubling)",
    )
    trainer_retry_initial_seconds: float = Field(
        default=0.2, gt=0, description="first wait before a failed MongoDB write is retried"
    )
    trainer_retry_max_seconds: float = Field(
        default=5.0, gt=0, description="longest wait between retries (the wait doubles up to it)"
    )
    trainer_mongodb_timeout_seconds: float = Field(
        default=5.0, gt=0, description="how long one MongoDB call waits for a reachable server"
    )
    trainer_kafka_patience_seconds: float = Field(
        default=600.0,
        gt=0,
        description="how long Kafka may leave produced records unacknowledged or offset commits "
        "failing (consumption paused, retried) before the trainer gives up and exits",
    )
    trainer_mongodb_patience_seconds: float = Field(
        default=600.0,
        gt=0,
        description="how long MongoDB may stay unreachable (consumption paused, writes retried) "
        "before the trainer gives up and exits",
    )

    @property
    def partition_list(self) -> list[int]:
        """The partitions as sorted distinct integers; ValueError naming a bad entry."""
        out = set()
        for item in filter(None, (p.strip() for p in self.partitions.split(","))):
            if not item.isdigit():
                raise ValueError(f"FLEAD_PARTITIONS entry {item!r} is not a partition number")
            out.add(int(item))
        if not out:
            raise ValueError("FLEAD_PARTITIONS names no partition")
        return sorted(out)

    @property
    def token(self) -> str | None:
        """The bearer token, if any."""
        return self.aggregator_token.get_secret_value() if self.aggregator_token else None

    @property
    def port(self) -> int:
        """Port of /metrics (and /healthz, /readyz)."""
        return self.metrics_port or DEFAULT_METRICS_PORT


def load_settings(**overrides: Any) -> TrainerSettings:
    """Settings from the environment; keyword overrides win."""
    return TrainerSettings(**overrides)
