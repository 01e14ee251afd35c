"""One federation core for the aggregator, the trainers and `flead simulate`: ModelVersion, Strategy, Participant."""

from flead.federation.participant import Cadence, Outcome, Participant, Sent, Transport
from flead.federation.rules import ROBUST_RULES, Rule, RuleParams
from flead.federation.strategy import (
    Closed,
    FedBuff,
    Policy,
    Strategy,
    StrategyConfig,
    SyncFedAvg,
    SyncRobust,
    Update,
    bundle_blob,
    make_strategy,
)
from flead.federation.transport import LocalTransport
from flead.federation.validate import UpdateRejected, outcome_of
from flead.federation.version import (
    Granularity,
    Kind,
    Lineage,
    ModelVersion,
    SpecMismatch,
    etag_of,
)

__all__ = [
    "ROBUST_RULES",
    "Cadence",
    "Closed",
    "FedBuff",
    "Granularity",
    "Kind",
    "Lineage",
    "LocalTransport",
    "ModelVersion",
    "Outcome",
    "Participant",
    "Policy",
    "Rule",
    "RuleParams",
    "Sent",
    "SpecMismatch",
    "Strategy",
    "StrategyConfig",
    "SyncFedAvg",
    "SyncRobust",
    "Transport",
    "Update",
    "UpdateRejected",
    "bundle_blob",
    "etag_of",
    "make_strategy",
    "outcome_of",
]
