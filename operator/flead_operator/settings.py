"""Operator settings: one validated object read from FLEAD_OPERATOR_* environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["OperatorSettings"]


def _env(name: str, *shared: str) -> AliasChoices:
    """Accept FLEAD_OPERATOR_<NAME> first, then the shared FLEAD_* names."""
    return AliasChoices(f"FLEAD_OPERATOR_{name}", *shared)


class OperatorSettings(BaseSettings):
    """Everything the operator can be told; see docs/operator.md for the table."""

    model_config = SettingsConfigDict(
        env_prefix="FLEAD_OPERATOR_", extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    # Grouping
    readings_partitions: int = Field(
        default=12,
        ge=1,
        le=4096,
        validation_alias=_env("READINGS_PARTITIONS", "FLEAD_READINGS_PARTITIONS"),
        description="partitions of the readings topic; devices default to murmur2(deviceId) % this",
    )
    partitions_per_trainer: int = Field(
        default=4,
        ge=1,
        le=4096,
        description="readings partitions one trainer owns (size of a group)",
    )
    max_devices_per_trainer: int = Field(
        default=0, ge=0, description="split a group whose devices exceed this (0 = no limit)"
    )

    # Trainer Deployments
    trainer_image: str = Field(
        default="flead-trainer:0.1.0",
        min_length=1,
        description="trainer container image",
    )
    trainer_image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    trainer_configmap: str = Field(
        default="",
        description="ConfigMap the trainers take environment from (envFrom); empty = none",
    )
    trainer_secret: str = Field(
        default="", description="Secret the trainers take environment from (envFrom); empty = none"
    )
    trainer_metrics_port: int = Field(
        default=9101, ge=1, le=65535, description="trainer /metrics port"
    )
    trainer_liveness_path: str = Field(
        default="/healthz", description="trainer liveness probe path"
    )
    trainer_readiness_path: str = Field(
        default="/readyz", description="trainer readiness probe path"
    )
    trainer_cpu_request: str = "100m"
    trainer_memory_request: str = "256Mi"
    trainer_cpu_limit: str = "1"
    trainer_memory_limit: str = "1Gi"
    trainer_run_as_user: int = Field(
        default=10001, ge=1, description="non-root UID of trainer pods"
    )
    trainer_token_audience: str = Field(
        default="flead-aggregator",
        min_length=1,
        description="audience of each trainer's projected ServiceAccount token (the aggregator's)",
    )
    trainer_token_expiration_seconds: int = Field(
        default=600,
        ge=600,
        le=86400,
        description="lifetime of the projected token; the kubelet rotates it at 80%",
    )

    # Behaviour
    debounce_seconds: float = Field(
        default=1.0,
        ge=0.0,
        le=60.0,
        description="quiet time (no device added or deleted) collected before a regrouping",
    )
    debounce_max_seconds: float = Field(
        default=10.0,
        ge=0.0,
        le=300.0,
        description="longest a stream of device adds or deletes postpones a regrouping",
    )
    pending_grace_seconds: float = Field(
        default=30.0,
        ge=0.0,
        le=300.0,
        description=(
            "a new device's first status waits this long for its trainer to become available,"
            " so it is written once (Ready) instead of twice (TrainerPending, then Ready)"
        ),
    )
    resync_seconds: float = Field(
        default=300.0,
        ge=5.0,
        description="full reconcile of every namespace this often (drift repair)",
    )
    api_concurrency: int = Field(
        default=16, ge=1, le=128, description="API requests the reconciler runs at once"
    )
    request_timeout_seconds: float = Field(
        default=30.0, gt=0, description="timeout of one API request"
    )

    # Device figures (status.anomalies / status.lastSeen) from the trainers' metrics
    prometheus_url: str = Field(
        default="", description="Prometheus that scrapes the trainers; empty = figures off"
    )
    stats_seconds: float = Field(
        default=60.0, ge=5.0, description="poll interval of the device figures"
    )

    # Observability
    metrics_port: int = Field(
        default=9102, ge=0, le=65535, description="port of /metrics (0 = off)"
    )
    log_format: Literal["json", "console"] = Field(
        default="json", validation_alias=_env("LOG_FORMAT", "FLEAD_LOG_FORMAT")
    )
    log_level: str = Field(default="INFO", validation_alias=_env("LOG_LEVEL", "FLEAD_LOG_LEVEL"))
