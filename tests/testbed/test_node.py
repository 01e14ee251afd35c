"""Smoke tests: the bed's real node (containerd + kubelet + kube-proxy + CoreDNS) runs pods,
and those pods reach this machine's bed services and nothing else."""

from __future__ import annotations

import json

import pytest

from tests.support.testbed import (
    kubectl,
    real_node_placement,
    real_node_pod,
    require_real_node,
    unique,
)

pytestmark = pytest.mark.cluster


@pytest.fixture(autouse=True)
def _real_node(read_testbed_env: dict[str, str]) -> None:
    require_real_node(read_testbed_env)


def test_real_node_is_ready_labelled_tainted_and_not_kwoks(
    read_testbed_env: dict[str, str],
) -> None:
    """Proves the real node joined the bed's apiserver Ready, runs a kubelet of the
    apiserver's own version on containerd, reports the machine's own address, carries the
    label and NoSchedule taint that keep other workloads off it, and lacks KWOK's annotation."""
    node = json.loads(
        kubectl("get", "node", read_testbed_env["TESTBED_NODE_NAME"], "-o", "json").stdout
    )
    conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    placement = real_node_placement(read_testbed_env)
    for key, value in placement["nodeSelector"].items():
        assert node["metadata"]["labels"][key] == value
    toleration = placement["tolerations"][0]
    assert {k: toleration[k] for k in ("key", "value", "effect")} in node["spec"]["taints"]
    assert "kwok.x-k8s.io/node" not in node["metadata"].get("annotations", {})
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    assert addresses["InternalIP"] == read_testbed_env["TESTBED_NODE_IP"]
    server = json.loads(kubectl("version", "-o", "json").stdout)["serverVersion"]["gitVersion"]
    assert node["status"]["nodeInfo"]["kubeletVersion"] == server
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")


def test_untolerating_pods_stay_on_kwok_nodes(k8s_namespace: str) -> None:
    """Proves a Deployment without the real node's toleration is scheduled only onto the
    KWOK fake nodes (the taint works), so other tests' workloads never land on it."""
    name = unique("spread")
    kubectl(
        "create",
        "deployment",
        name,
        "-n",
        k8s_namespace,
        "--image=registry.invalid/x:1",
        "--replicas=4",
    )
    kubectl(
        "rollout", "status", f"deployment/{name}", "-n", k8s_namespace, "--timeout=60s", timeout=90
    )
    nodes = kubectl(
        "get", "pods", "-n", k8s_namespace, "-o", "jsonpath={range .items[*]}{.spec.nodeName} {end}"
    ).stdout.split()
    assert len(nodes) == 4
    assert all(n.startswith("kwok-node-") for n in nodes), nodes


def test_pod_reaches_cluster_and_bed_services_only(
    k8s_namespace: str, read_testbed_env: dict[str, str]
) -> None:
    """Proves a pod really runs on the node (sandbox image, CNI bridge, its log read through
    the apiserver and kubelet), resolves cluster names through CoreDNS, reaches the apiserver
    through the kubernetes Service (kube-proxy), reaches Kafka, FerretDB and Prometheus at
    the node IP, gets no answer for outside names, and that the egress guard rejects other
    addresses at once (a REJECT, not a silent drop ending in a timeout)."""
    ip = read_testbed_env["TESTBED_NODE_IP"]
    expectations = [
        "dns:kubernetes.default.svc.cluster.local",
        "tcp:kubernetes.default.svc.cluster.local:443",
        f"tcp:{read_testbed_env['TESTBED_NODE_KAFKA_BOOTSTRAP_SERVERS']}",
        f"tcp:{ip}:27017",
        f"tcp:{ip}:9090",
        "nodns:pypi.org",
        "notcp:1.1.1.1:443",
    ]
    lines = real_node_pod(k8s_namespace, unique("probe"), expectations).splitlines()
    assert [line.split()[0] for line in lines] == ["ok"] * len(expectations), lines
    outside = lines[-1]
    assert "timeout" not in outside, f"egress was dropped silently, not rejected: {outside}"


def test_service_in_front_of_a_pod_on_the_node(
    k8s_namespace: str, read_testbed_env: dict[str, str]
) -> None:
    """Proves a ClusterIP Service in front of a pod on the real node answers another pod
    there by its DNS name (CoreDNS, kube-proxy's rules, the bridge's hairpin mode)."""
    server = unique("srv")
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": server, "labels": {"app": server}},
        "spec": {
            **real_node_placement(read_testbed_env),
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "serve",
                    "image": read_testbed_env["TESTBED_PROBE_IMAGE"],
                    "args": ["serve:8080"],
                    "ports": [{"containerPort": 8080}],
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                }
            ],
        },
    }
    kubectl("apply", "-n", k8s_namespace, "-f", "-", input=json.dumps(manifest))
    kubectl("expose", "pod", server, "-n", k8s_namespace, "--port=80", "--target-port=8080")
    kubectl(
        "wait",
        "--for=condition=Ready",
        f"pod/{server}",
        "-n",
        k8s_namespace,
        "--timeout=60s",
        timeout=90,
    )
    target = f"tcp:{server}.{k8s_namespace}.svc.cluster.local:80"
    logs = real_node_pod(k8s_namespace, unique("client"), [target])
    assert logs.startswith(f"ok {target}"), logs
    kubectl("delete", "pod", server, "-n", k8s_namespace, "--wait=false")
