"""Settings shared by every FLEAD process, read from environment variables (12-factor)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from flead.data.records import CHANNELS
from flead.model.spec import ModelSpec

__all__ = ["CommonSettings", "KafkaSettings", "ModelSettings", "MongoSettings"]


class CommonSettings(BaseSettings):
    """Logging and metrics settings every process has; services subclass this."""

    model_config = SettingsConfigDict(env_prefix="FLEAD_", extra="ignore")

    log_format: Literal["json", "console"] = Field(
        default="json", description="json for machines, console for humans"
    )
    log_level: str = Field(default="INFO", description="Python log level name")
    metrics_port: int = Field(
        default=0, ge=0, le=65535, description="port of /metrics; 0 = the service's default"
    )


class KafkaSettings(CommonSettings):
    """Where Kafka is and which topics FLEAD uses."""

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias=AliasChoices("FLEAD_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
        description="Kafka bootstrap servers, comma separated",
    )
    readings_topic: str = Field(default="flead.readings", description="topic of sensor readings")
    readings_partitions: int = Field(
        default=12, ge=1, le=4096, description="partitions of the readings topic"
    )
    labels_topic: str = Field(default="flead.labels", description="topic of ground-truth labels")
    anomalies_topic: str = Field(
        default="flead.anomalies", description="topic of detected anomalies"
    )
    dead_letter_topic: str = Field(
        default="flead.dead-letter", description="topic of malformed records"
    )


class MongoSettings(CommonSettings):
    """Where MongoDB (or a MongoDB-wire server) is."""

    mongodb_uri: str = Field(
        default="mongodb://127.0.0.1:27017/flead",
        validation_alias=AliasChoices("FLEAD_MONGODB_URI", "MONGODB_URI"),
        description="MongoDB connection string",
    )
    mongodb_database: str = Field(default="flead", description="database name")


class ModelSettings(CommonSettings):
    """The model's shape contract: trainers and the aggregator read the same two variables."""

    model_features: str = Field(
        default=",".join(CHANNELS),
        description="model input features (comma list); every trainer and the aggregator agree",
    )
    model_seed: int = Field(
        default=0, description="seed of the initial global model (version 0) and new devices"
    )

    @property
    def features(self) -> tuple[str, ...]:
        """The model's input features as a tuple."""
        return tuple(f.strip() for f in self.model_features.split(",") if f.strip())

    @property
    def spec(self) -> ModelSpec:
        """The model every process of this deployment runs (the architecture's defaults)."""
        return ModelSpec.of(self.features, seed=self.model_seed)
