"""The chart's operator RBAC grants exactly what the operator uses, and nothing else."""

from __future__ import annotations

import pytest
import yaml

from tests.cluster.operator.conftest import render_rbac
from tests.support.testbed import kubectl

pytestmark = pytest.mark.cluster

SA = "flead-operator"
ALLOWED = [
    ("list", "federateddevices.flead.io"),
    ("watch", "federateddevices.flead.io"),
    ("patch", "federateddevices.flead.io/status"),
    ("list", "deployments.apps"),
    ("watch", "deployments.apps"),
    ("create", "deployments.apps"),
    ("patch", "deployments.apps"),
    ("delete", "deployments.apps"),
    ("create", "configmaps"),
    ("patch", "configmaps"),
    ("delete", "configmaps"),
    ("create", "serviceaccounts"),
    ("patch", "serviceaccounts"),
    ("delete", "serviceaccounts"),
]
DENIED = [
    ("get", "secrets"),
    ("list", "configmaps"),
    ("get", "serviceaccounts"),
    ("create", "serviceaccounts/token"),
    ("list", "pods"),
    ("update", "deployments.apps"),
    ("patch", "federateddevices.flead.io"),
    ("delete", "federateddevices.flead.io"),
    ("create", "events"),
    ("list", "customresourcedefinitions.apiextensions.k8s.io"),
]


def _can(operator_namespace: str, verb: str, resource: str) -> bool:
    user = f"system:serviceaccount:{operator_namespace}:{SA}"
    resource, _, sub = resource.partition("/")
    extra = [f"--subresource={sub}"] if sub else []
    proc = kubectl("auth", "can-i", verb, resource, *extra, "-A", "--as", user, check=False)
    return proc.stdout.strip() == "yes"


def test_rendered_rules_are_the_documented_minimum(operator_namespace: str) -> None:
    """helm template renders a SA, a ClusterRole with five rules and its binding."""
    docs = [d for d in yaml.safe_load_all(render_rbac(operator_namespace)) if d]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "ServiceAccount"]
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert len(role["rules"]) == 5


@pytest.mark.parametrize(("verb", "resource"), ALLOWED)
def test_service_account_can(operator_namespace: str, verb: str, resource: str) -> None:
    """Each call the operator makes is allowed cluster-wide."""
    assert _can(operator_namespace, verb, resource)


@pytest.mark.parametrize(("verb", "resource"), DENIED)
def test_service_account_cannot(operator_namespace: str, verb: str, resource: str) -> None:
    """Anything else is denied."""
    assert not _can(operator_namespace, verb, resource)


def test_watch_namespaces_renders_roles_instead(operator_namespace: str) -> None:
    """operator.watchNamespaces gives one Role + RoleBinding per namespace and no ClusterRole."""
    rendered = render_rbac(operator_namespace, "--set", "operator.watchNamespaces={a,b}")
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(rendered) if d)
    assert kinds == ["Role", "Role", "RoleBinding", "RoleBinding", "ServiceAccount"]
