"""Smoke tests: the bed's Kubernetes control plane (etcd, kube-apiserver, controller
manager, scheduler) with KWOK fake nodes behaves like a real cluster."""

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.testbed import TESTBED, kubectl, run, wait_until

pytestmark = pytest.mark.cluster

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: smoke}
spec:
  replicas: 3
  selector: {matchLabels: {app: smoke}}
  template:
    metadata: {labels: {app: smoke}}
    spec:
      containers:
        - name: app
          image: registry.invalid/flead/smoke:0
          resources: {requests: {cpu: 100m, memory: 64Mi}}
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.smoke.flead.dev}
spec:
  group: smoke.flead.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [minReplicas, maxReplicas]
              properties:
                minReplicas: {type: integer, minimum: 0}
                maxReplicas: {type: integer, minimum: 1}
              x-kubernetes-validations:
                - rule: self.minReplicas <= self.maxReplicas
                  message: minReplicas must not exceed maxReplicas
"""


def _widget(name: str, lo: int, hi: int) -> str:
    return json.dumps(
        {
            "apiVersion": "smoke.flead.dev/v1",
            "kind": "Widget",
            "metadata": {"name": name},
            "spec": {"minReplicas": lo, "maxReplicas": hi},
        }
    )


def test_versions_match_the_pinned_ones() -> None:
    """Proves kubectl on PATH is the cached build and the server runs the pinned release."""
    pinned = dict(
        re.match(r"(\w+)=(\S+)", line).groups()  # type: ignore[union-attr]
        for line in (TESTBED / "versions.env").read_text().splitlines()
        if re.match(r"\w+=", line)
    )
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == f"v{pinned['K8S_VERSION']}"
    assert version["clientVersion"]["gitVersion"] == f"v{pinned['K8S_VERSION']}"
    cache_bin = Path(os.environ["TESTBED_CACHE"]) / "bin"
    assert os.environ["PATH"].split(":")[0] == str(cache_bin)


def test_deployment_pods_run_on_kwok_nodes(k8s_namespace: str) -> None:
    """Proves scheduler + controller manager + KWOK: a Deployment's pods become Running.

    The ReplicaSet controller creates the pods, the scheduler binds them to fake nodes
    (label type=kwok), KWOK marks them Running and Ready with a pod IP, and the rollout
    completes.
    """
    kubectl("apply", "-n", k8s_namespace, "-f", "-", input=DEPLOYMENT)
    kubectl(
        "rollout", "status", "deployment/smoke", "-n", k8s_namespace, "--timeout=90s", timeout=120
    )
    nodes = set(kubectl("get", "nodes", "-l", "type=kwok", "-o", "name").stdout.split())
    assert len(nodes) >= 3
    pods = json.loads(
        kubectl("get", "pods", "-n", k8s_namespace, "-l", "app=smoke", "-o", "json").stdout
    )
    assert len(pods["items"]) == 3
    for pod in pods["items"]:
        assert pod["status"]["phase"] == "Running"
        assert f"node/{pod['spec']['nodeName']}" in nodes
        assert pod["status"].get("podIP")
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert ready["Ready"] == "True"


def test_crd_structural_schema_and_cel_rule(k8s_namespace: str) -> None:
    """Proves apiextensions validation: the CEL rule rejects an invalid object with its
    message, unknown fields are refused, and a valid object is stored."""
    kubectl("apply", "-f", "-", input=CRD)
    kubectl("wait", "--for=condition=Established", "crd/widgets.smoke.flead.dev", "--timeout=60s")
    # Discovery may lag the Established condition by a moment.
    wait_until(
        "widgets in discovery",
        lambda: kubectl("get", "widgets", "-n", k8s_namespace, check=False).returncode == 0,
    )

    bad = kubectl("apply", "-n", k8s_namespace, "-f", "-", input=_widget("bad", 5, 2), check=False)
    assert bad.returncode != 0
    assert "minReplicas must not exceed maxReplicas" in bad.stderr

    unknown = json.loads(_widget("unknown", 1, 2))
    unknown["spec"]["colour"] = "red"
    refused = kubectl(
        "apply", "-n", k8s_namespace, "-f", "-", input=json.dumps(unknown), check=False
    )
    assert refused.returncode != 0
    assert 'unknown field "spec.colour"' in refused.stderr

    kubectl("apply", "-n", k8s_namespace, "-f", "-", input=_widget("good", 1, 3))
    got = json.loads(kubectl("get", "widget", "good", "-n", k8s_namespace, "-o", "json").stdout)
    assert got["spec"] == {"minReplicas": 1, "maxReplicas": 3}


def test_service_account_kubeconfig_is_limited_to_its_role(
    k8s_namespace: str, mint_sa_kubeconfig: Callable[[str, str], Path]
) -> None:
    """Proves RBAC with ServiceAccount tokens: a minted kubeconfig may do what its Role
    grants (list pods, read one configmap) and is denied everything else."""
    ns = k8s_namespace
    kubectl("create", "serviceaccount", "reader", "-n", ns)
    kubectl("create", "configmap", "visible", "-n", ns, "--from-literal=a=1")
    kubectl("create", "role", "reader", "-n", ns, "--verb=get,list,watch", "--resource=pods")
    kubectl(
        "create",
        "rolebinding",
        "reader",
        "-n",
        ns,
        "--role=reader",
        f"--serviceaccount={ns}:reader",
    )
    sa_config = str(mint_sa_kubeconfig(ns, "reader"))

    whoami = json.loads(kubectl("auth", "whoami", "-o", "json", kubeconfig=sa_config).stdout)
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:reader"
    wait_until(
        "the RoleBinding to take effect",
        lambda: kubectl("get", "pods", "-n", ns, kubeconfig=sa_config, check=False).returncode == 0,
    )

    denied = [
        ("get", "configmap", "visible", "-n", ns),
        ("get", "secrets", "-n", ns),
        ("create", "configmap", "sneaky", "-n", ns, "--from-literal=b=2"),
        ("get", "pods", "-n", "default"),
        ("get", "nodes"),
    ]
    for args in denied:
        proc = kubectl(*args, kubeconfig=sa_config, check=False)
        assert proc.returncode != 0, args
        assert "Forbidden" in proc.stderr or "forbidden" in proc.stderr, (args, proc.stderr)
        assert f"system:serviceaccount:{ns}:reader" in proc.stderr
    assert (
        kubectl(
            "auth", "can-i", "delete", "pods", "-n", ns, kubeconfig=sa_config, check=False
        ).stdout.strip()
        == "no"
    )
    assert (
        kubectl("auth", "can-i", "list", "pods", "-n", ns, kubeconfig=sa_config).stdout.strip()
        == "yes"
    )


def test_monitoring_crds_validate_servicemonitors(k8s_namespace: str) -> None:
    """Proves testbed/install-monitoring-crds.sh: after it, the API server validates a
    ServiceMonitor against the prometheus-operator schema (server-side dry run)."""
    run([str(TESTBED / "install-monitoring-crds.sh")], timeout=180)
    good = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "smoke"},
        "spec": {
            "selector": {"matchLabels": {"app": "smoke"}},
            "endpoints": [{"port": "metrics", "interval": "15s"}],
        },
    }
    kubectl("apply", "--dry-run=server", "-n", k8s_namespace, "-f", "-", input=json.dumps(good))
    bad = json.loads(json.dumps(good))
    bad["spec"]["endpoints"][0]["interval"] = "every now and then"
    proc = kubectl(
        "apply",
        "--dry-run=server",
        "-n",
        k8s_namespace,
        "-f",
        "-",
        input=json.dumps(bad),
        check=False,
    )
    assert proc.returncode != 0
    assert "interval" in proc.stderr
