"""Aggregator settings: API port, bearer token, aggregation policy and validation bounds (FLEAD_*)."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, SecretStr

from flead.federation import Policy, Rule, RuleParams, StrategyConfig
from flead.settings import ModelSettings, MongoSettings

__all__ = ["AggregatorSettings", "load_settings"]


class AggregatorSettings(MongoSettings, ModelSettings):
    """One validated settings object for the aggregator process, from FLEAD_* variables."""

    aggregator_host: str = Field(default="0.0.0.0", description="address the API listens on")
    aggregator_port: int = Field(
        default=8000, ge=1, le=65535, description="port of the API and /metrics"
    )
    aggregator_token: SecretStr | None = Field(
        default=None,
        description="bearer token required on every write; unset = all writes refused (403)",
    )
    aggregator_auth: Literal["serviceaccount", "static"] = Field(
        default_factory=lambda: "serviceaccount" if os.environ.get("KUBERNETES_SERVICE_HOST")
        else "static",
        description="who may call: trainers' ServiceAccount tokens (TokenReview; the default in "
        "a pod) or the static FLEAD_AGGREGATOR_TOKEN (the default elsewhere)",
    )  # fmt: skip
    aggregator_token_audience: str = Field(
        default="flead-aggregator", min_length=1, description="audience trainers' tokens must carry"
    )
    aggregator_trainer_namespace: str = Field(
        default="", description="namespace of the trainers accepted; empty = the aggregator's own"
    )
    aggregator_admins: str = Field(
        default="",
        description="comma list of user names (system:serviceaccount:<ns>:<name>) allowed to "
        "aggregate and roll back in serviceaccount mode; empty = nobody",
    )
    aggregator_kube_api_url: str = Field(
        default="", description="API server for TokenReview; empty = the in-cluster Service"
    )
    aggregator_kube_token_file: str = Field(
        default="/var/run/secrets/kubernetes.io/serviceaccount/token",
        description="the aggregator's own API token (re-read on every call)",
    )
    aggregator_kube_ca_file: str = Field(
        default="/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        description="CA bundle of the API server; empty = the system's",
    )
    aggregator_auth_cache_seconds: float = Field(
        default=10.0, ge=0, le=300, description="how long a token's review is reused"
    )
    aggregator_auth_max_reviews: int = Field(
        default=8, ge=1, le=256, description="API calls of token reviews in flight at once"
    )
    aggregator_auth_timeout_seconds: float = Field(
        default=5.0, gt=0, description="timeout of one review call (503 beyond)"
    )
    aggregator_policy: Literal["sync", "async"] = Field(
        default="sync", description="sync: rounds of min_updates or timeout; async: FedBuff buffer"
    )
    aggregator_rule: Literal["fedavg", "trimmed_mean", "median", "krum"] = Field(
        default="fedavg", description="aggregation rule of a synchronous round"
    )
    aggregator_min_updates: int = Field(
        default=3,
        ge=1,
        description="sync: a round closes once this many participants (trainers) contributed",
    )
    aggregator_round_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="sync: a round with >= 1 update closes after this long anyway",
    )
    aggregator_buffer_size: int = Field(
        default=5, ge=1, description="async: updates buffered before the global model moves"
    )
    aggregator_server_lr: float = Field(
        default=1.0, gt=0, description="async: server learning rate"
    )
    aggregator_trim_beta: float = Field(
        default=0.1, ge=0, lt=0.5, description="trimmed_mean: fraction cut at each end"
    )
    aggregator_krum_byzantine: int = Field(
        default=0, ge=0, description="krum: tolerated bad updates"
    )
    aggregator_clip_norm: float | None = Field(
        default=None, gt=0, description="clip each update's step (weights - global) to this L2 norm"
    )
    aggregator_max_norm: float | None = Field(
        default=1000.0, gt=0, description="reject (422 norm) updates whose step norm exceeds this"
    )
    aggregator_max_staleness: int = Field(
        default=8, ge=0, description="reject (422 stale) updates more versions behind than this"
    )
    aggregator_max_body_bytes: int = Field(
        default=16 << 20, ge=1024, description="largest accepted request body (413 beyond)"
    )

    @property
    def strategy(self) -> StrategyConfig:
        """The federation strategy these settings describe."""
        return StrategyConfig(
            policy=Policy(self.aggregator_policy), rule=Rule(self.aggregator_rule),
            params=RuleParams(self.aggregator_trim_beta, self.aggregator_krum_byzantine),
            min_updates=self.aggregator_min_updates,
            round_timeout=self.aggregator_round_timeout_seconds,
            buffer_size=self.aggregator_buffer_size, server_lr=self.aggregator_server_lr,
            max_staleness=self.aggregator_max_staleness, max_norm=self.aggregator_max_norm,
            clip_norm=self.aggregator_clip_norm,
        )  # fmt: skip

    @property
    def admin_identities(self) -> tuple[str, ...]:
        """FLEAD_AGGREGATOR_ADMINS as a tuple."""
        return tuple(a.strip() for a in self.aggregator_admins.split(",") if a.strip())

    @property
    def token(self) -> str | None:
        """The bearer token, or None when writes are refused."""
        if self.aggregator_token is None:
            return None
        return self.aggregator_token.get_secret_value() or None


def load_settings(**overrides: Any) -> AggregatorSettings:
    """Settings from the environment; keyword overrides win (tests, embedding)."""
    return AggregatorSettings(**overrides)
