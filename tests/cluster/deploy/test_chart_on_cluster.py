"""The chart against the test bed's real API server (KWOK nodes): server-side dry runs of every
object, then a real install, upgrade and uninstall."""

from __future__ import annotations

import base64
import time

import pytest
import yaml
from deploy.manifests import KUBE_VERSION

from tests.unit.deploy.support import CHART, PRODUCTION_VALUES

from .conftest import Bed

pytestmark = pytest.mark.cluster

ALL_ON = [
    "--set", "monitoring.serviceMonitor.enabled=true",
    "--set", "monitoring.prometheusRule.enabled=true",
    "--set", "producer.enabled=true",
]  # fmt: skip
NAMESPACED_KINDS = (
    "deployments,statefulsets,services,configmaps,secrets,serviceaccounts,roles,rolebindings,"
    "networkpolicies,"
    "servicemonitors.monitoring.coreos.com,podmonitors.monitoring.coreos.com,"
    "prometheusrules.monitoring.coreos.com"
)


def template(bed: Bed, namespace: str, *args: str) -> str:
    """`helm template` output (CRDs included) for release `t` in `namespace`."""
    return bed.helm(
        "template", "t", str(CHART), "--namespace", namespace, "--include-crds",
        "--kube-version", KUBE_VERSION, *args,
    ).stdout  # fmt: skip


def test_helm_lint(bed: Bed) -> None:
    """helm lint (the bed's helm) passes for default and production-like values."""
    bed.helm("lint", "--strict", str(CHART))
    bed.helm("lint", "--strict", str(CHART), "-f", str(PRODUCTION_VALUES))


@pytest.mark.usefixtures("monitoring_crds")
def test_default_values_pass_server_side_dry_run(bed: Bed, namespace: str) -> None:
    """Every object of the chart (producer and monitoring on) is accepted by the real API server."""
    rendered = template(bed, namespace, *ALL_ON)
    result = bed.kubectl("apply", "--dry-run=server", "-f", "-", stdin=rendered)
    kinds = {d["kind"] for d in yaml.safe_load_all(rendered) if d}
    assert {"ServiceMonitor", "PodMonitor", "PrometheusRule", "CustomResourceDefinition"} <= kinds
    assert result.stdout.count("(server dry run)") == sum(
        1 for d in yaml.safe_load_all(rendered) if d
    )


@pytest.mark.usefixtures("monitoring_crds")
def test_production_values_pass_server_side_dry_run(bed: Bed, namespace: str) -> None:
    """The production-like values (external Kafka/MongoDB, watched namespace, Roles) are accepted."""
    watched = yaml.safe_load(PRODUCTION_VALUES.read_text())["operator"]["watchNamespaces"]
    created = [
        ns for ns in watched if bed.kubectl("create", "namespace", ns, check=False).returncode == 0
    ]
    try:
        rendered = template(bed, namespace, "-f", str(PRODUCTION_VALUES))
        result = bed.kubectl("apply", "--dry-run=server", "-f", "-", stdin=rendered)
    finally:
        for ns in created:
            bed.kubectl("delete", "namespace", ns, "--wait=false", check=False)
    assert (
        "role.rbac.authorization.k8s.io/t-flead-operator created (server dry run)" in result.stdout
    )


def _wait_running(bed: Bed, namespace: str, component: str, timeout: float = 120) -> None:
    """Wait until a pod of `component` is Running (KWOK nodes run no containers, but do schedule)."""
    deadline = time.monotonic() + timeout
    phases: list[str] = []
    while time.monotonic() < deadline:
        pods = bed.get_json(
            "pods", "-n", namespace, "-l", f"app.kubernetes.io/component={component}"
        )
        phases = [p["status"].get("phase", "") for p in pods["items"]]
        if "Running" in phases:
            return
        time.sleep(2)
    raise AssertionError(f"no Running {component} pod in {namespace} after {timeout}s: {phases}")


@pytest.mark.usefixtures("monitoring_crds")
def test_install_upgrade_uninstall(bed: Bed, namespace: str) -> None:
    """helm install creates every object (no shared token by default) and the pods run on KWOK
    nodes; an upgrade to the static mode generates the token, the next upgrade keeps it;
    uninstall leaves nothing but the CRD."""
    release = "fl" + namespace.rsplit("-", 1)[-1]
    bed.helm("install", release, str(CHART), "-n", namespace, *ALL_ON)
    try:
        manifest = bed.helm("get", "manifest", release, "-n", namespace).stdout
        objects = [d for d in yaml.safe_load_all(manifest) if d]
        assert len(objects) > 15
        for obj in objects:
            kind, name = obj["kind"], obj["metadata"]["name"]
            scope = ["-n", obj["metadata"].get("namespace", namespace)]
            if kind in {"ClusterRole", "ClusterRoleBinding"}:
                scope = []
            bed.kubectl("get", kind, name, *scope, "-o", "name")
        for component in ("operator", "aggregator", "kafka", "mongodb", "producer"):
            _wait_running(bed, namespace, component)

        secret = bed.get_json("secret", f"{release}-flead-credentials", "-n", namespace)
        assert "FLEAD_AGGREGATOR_TOKEN" not in secret["data"]  # ServiceAccount tokens instead
        static = ("--set", "aggregator.auth.mode=static")
        bed.helm("upgrade", release, str(CHART), "-n", namespace, *ALL_ON, *static)
        secret = bed.get_json("secret", f"{release}-flead-credentials", "-n", namespace)
        token = base64.b64decode(secret["data"]["FLEAD_AGGREGATOR_TOKEN"]).decode()
        assert len(token) == 48
        bed.helm(
            "upgrade",
            release,
            str(CHART),
            "-n",
            namespace,
            *ALL_ON,
            *static,
            "--set",
            "config.logLevel=DEBUG",
        )
        secret = bed.get_json("secret", f"{release}-flead-credentials", "-n", namespace)
        assert base64.b64decode(secret["data"]["FLEAD_AGGREGATOR_TOKEN"]).decode() == token
    finally:
        bed.helm("uninstall", release, "-n", namespace, "--wait", "--timeout", "120s", check=False)

    selector = f"app.kubernetes.io/instance={release}"
    left = bed.kubectl(
        "get", NAMESPACED_KINDS, "-n", namespace, "-l", selector, "-o", "name"
    ).stdout
    assert not left.strip(), f"left behind by uninstall:\n{left}"
    cluster_left = bed.kubectl(
        "get", "clusterroles,clusterrolebindings", "-l", selector, "-o", "name"
    ).stdout
    assert not cluster_left.strip(), cluster_left
    deadline = time.monotonic() + 90
    while bed.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "name").stdout.strip():
        assert time.monotonic() < deadline, "pods still there 90 s after uninstall"
        time.sleep(2)
    bed.kubectl("get", "crd", "federateddevices.flead.io")  # kept, as Helm does with crds/


def test_plain_manifests_pass_server_side_dry_run(bed: Bed) -> None:
    """`kubectl apply -k manifests/` (CRD, RBAC, operator, aggregator, dev Kafka/MongoDB) is accepted."""
    created = bed.kubectl("create", "namespace", "flead", check=False).returncode == 0
    try:
        result = bed.kubectl("apply", "--dry-run=server", "-k", str(CHART.parents[1] / "manifests"))
    finally:
        if created:
            bed.kubectl("delete", "namespace", "flead", "--wait=false", check=False)
    assert "deployment.apps/flead-operator" in result.stdout
    assert "deployment.apps/flead-aggregator" in result.stdout
