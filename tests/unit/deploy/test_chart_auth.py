"""The chart's workload identity: aggregator RBAC for TokenReview (nothing more), its own token,
no shared secret by default, the static mode when asked for."""

from __future__ import annotations

from typing import Any

import pytest

from .support import by_kind, helm_template

pytestmark = pytest.mark.unit


def _aggregator(docs: list[dict[str, Any]]) -> Any:
    (dep,) = [
        d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "t-flead-aggregator"
    ]
    return dep["spec"]["template"]["spec"]


def _rules(docs: list[dict[str, Any]], kind: str, name: str) -> list[Any]:
    (role,) = [d for d in by_kind(docs, kind) if d["metadata"]["name"] == name]
    return list(role["rules"])


def test_serviceaccount_mode_is_the_default_with_exactly_the_review_permissions() -> None:
    """tokenreviews create cluster-wide; get serviceaccounts and configmaps in the release
    namespace only; the aggregator runs as its own ServiceAccount with its API token."""
    docs = helm_template()
    pod = _aggregator(docs)
    assert pod["serviceAccountName"] == "t-flead-aggregator"
    assert pod["automountServiceAccountToken"] is True
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["FLEAD_AGGREGATOR_AUTH"] == "serviceaccount"
    assert env["FLEAD_AGGREGATOR_TRAINER_NAMESPACE"] == "flead-test"
    assert env["FLEAD_AGGREGATOR_ADMINS"] == ""
    cluster = "flead-test-t-flead-aggregator-tokenreview"
    assert _rules(docs, "ClusterRole", cluster) == [
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]}
    ]
    (role,) = [d for d in by_kind(docs, "Role") if d["metadata"]["name"] == "t-flead-aggregator"]
    assert role["metadata"]["namespace"] == "flead-test"
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["serviceaccounts", "configmaps"], "verbs": ["get"]}
    ]
    bindings = [
        d
        for d in by_kind(docs, "ClusterRoleBinding") + by_kind(docs, "RoleBinding")
        if d["metadata"]["name"] in (cluster, "t-flead-aggregator")
    ]
    assert len(bindings) == 2
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "t-flead-aggregator", "namespace": "flead-test"}
        ]
    (secret,) = by_kind(docs, "Secret")
    assert set(secret["data"]) == {"FLEAD_MONGODB_URI"}


def test_static_mode_binds_nothing_and_mounts_no_token() -> None:
    """aggregator.auth.mode=static: no TokenReview role, no API token in the pod, the shared
    token in the Secret."""
    docs = helm_template(set_values=["aggregator.auth.mode=static"])
    pod = _aggregator(docs)
    assert pod["automountServiceAccountToken"] is False
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["FLEAD_AGGREGATOR_AUTH"] == "static"
    names = {d["metadata"]["name"] for d in by_kind(docs, "ClusterRole") + by_kind(docs, "Role")}
    assert not any("aggregator" in n for n in names)
    (secret,) = by_kind(docs, "Secret")
    assert "FLEAD_AGGREGATOR_TOKEN" in secret["data"]


def test_admins_reach_the_aggregator() -> None:
    """aggregator.auth.admins becomes FLEAD_AGGREGATOR_ADMINS (comma list)."""
    docs = helm_template(
        set_values=[
            "aggregator.auth.admins={system:serviceaccount:ops:a,system:serviceaccount:ops:b}"
        ]
    )
    env = {e["name"]: e.get("value") for e in _aggregator(docs)["containers"][0]["env"]}
    assert (
        env["FLEAD_AGGREGATOR_ADMINS"] == "system:serviceaccount:ops:a,system:serviceaccount:ops:b"
    )
