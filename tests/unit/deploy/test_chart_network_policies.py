"""The chart's NetworkPolicies: on by default, each selects a real workload of the chart (or the
operator's trainers), and each allowed peer selects the pods that must get through."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from flead_operator.settings import OperatorSettings
from flead_operator.specs import trainer_deployment

from .support import by_kind, helm_template, pod_specs

pytestmark = pytest.mark.unit

TRAINER_POD = trainer_deployment("flead-test", "p0-3", (0,), OperatorSettings())["spec"][
    "template"
]["metadata"]["labels"]


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return dict(selector.get("matchLabels", {})).items() <= dict(labels).items()


def _policies(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        d["metadata"]["name"].removeprefix("t-flead-"): d["spec"]
        for d in by_kind(docs, "NetworkPolicy")
    }


def _pod_labels(docs: list[dict[str, Any]]) -> dict[str, Mapping[str, str]]:
    out = {}
    for d in docs:
        if d.get("kind") in ("Deployment", "StatefulSet"):
            out[d["metadata"]["name"].removeprefix("t-flead-")] = d["spec"]["template"]["metadata"][
                "labels"
            ]
    return out


def _peers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [peer for rule in spec.get("ingress", []) for peer in rule.get("from", [])]


def test_on_by_default_one_per_component() -> None:
    """Aggregator, trainers, operator, the helm test pod and the dev Kafka and MongoDB get a
    policy; the producer too when enabled; networkPolicy.enabled=false renders none."""
    assert set(_policies(helm_template())) == {
        "aggregator",
        "trainers",
        "operator",
        "kafka",
        "mongodb",
        "test",
    }
    with_producer = helm_template(set_values=["producer.enabled=true"])
    assert "producer" in _policies(with_producer)
    assert not by_kind(helm_template(set_values=["networkPolicy.enabled=false"]), "NetworkPolicy")
    external = helm_template(
        set_values=["kafka.enabled=false", "externalKafka.bootstrapServers=k:9092",
                    "mongodb.enabled=false", "externalMongodb.uri=mongodb://m/flead"]
    )  # fmt: skip
    assert set(_policies(external)) == {"aggregator", "trainers", "operator", "test"}


def test_every_policy_selects_its_workload() -> None:
    """Each podSelector selects the pods of the workload it is named after (the trainers' the
    labels the operator gives them)."""
    docs = helm_template(set_values=["producer.enabled=true"])
    (test_pod,) = by_kind(docs, "Pod")
    pods = {**_pod_labels(docs), "trainers": TRAINER_POD, "test": test_pod["metadata"]["labels"]}
    for name, spec in _policies(docs).items():
        assert _selects(spec["podSelector"], pods[name]), name
        others = [
            n for n, labels in pods.items() if n != name and _selects(spec["podSelector"], labels)
        ]
        assert others == [], f"{name} also selects {others}"


def test_only_the_callers_get_through() -> None:
    """The aggregator admits the trainers and the helm test pod; MongoDB the aggregator and the
    trainers; Kafka FLEAD's pods; a pod of another app matches no peer; the operator's egress
    is the API server ports, DNS and Prometheus only."""
    docs = helm_template()
    policies, pods = _policies(docs), _pod_labels(docs)
    (test_pod,) = by_kind(docs, "Pod")
    stranger = {"app.kubernetes.io/name": "curl"}
    aggregator = [
        p["podSelector"] for p in _peers(policies["aggregator"]) if "namespaceSelector" not in p
    ]
    assert any(_selects(s, TRAINER_POD) for s in aggregator)
    assert any(_selects(s, test_pod["metadata"]["labels"]) for s in aggregator)
    assert not any(_selects(s, stranger) or _selects(s, pods["operator"]) for s in aggregator)
    mongodb = [p["podSelector"] for p in _peers(policies["mongodb"])]
    assert any(_selects(s, pods["aggregator"]) for s in mongodb)
    assert any(_selects(s, TRAINER_POD) for s in mongodb)
    assert not any(_selects(s, stranger) or _selects(s, pods["operator"]) for s in mongodb)
    assert not any(_selects(p["podSelector"], stranger) for p in _peers(policies["kafka"]))
    egress = policies["operator"]["egress"]
    ports = sorted(p["port"] for rule in egress for p in rule["ports"])
    assert ports == [53, 53, 443, 6443, 9090]
    assert "Egress" in policies["operator"]["policyTypes"]


def test_user_peers_are_added() -> None:
    """networkPolicy.aggregatorFrom and apiServer reach the rendered rules."""
    docs = helm_template(
        set_values=[
            "networkPolicy.aggregatorFrom[0].namespaceSelector.matchLabels.team=ops",
            "networkPolicy.apiServer[0].ipBlock.cidr=10.1.0.1/32",
        ]
    )
    policies = _policies(docs)
    assert {"namespaceSelector": {"matchLabels": {"team": "ops"}}} in _peers(policies["aggregator"])
    assert policies["operator"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.1.0.1/32"}}]
    assert list(pod_specs(docs))
