"""The chart end to end on the bed's real node: FLEAD's own images, real processes.

One release for the module (the ``release`` fixture, tests/cluster/e2e/conftest.py): the
four images built and imported into the node's containerd, ``helm install charts/flead`` with
the bed's Kafka and MongoDB-wire server as external services, the 54 sample devices applied,
every pod on the real node and none on a KWOK node. The tests then read what the running
processes did, in order; the last one uninstalls.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.e2e.release import (
    AGGREGATOR,
    IMAGE_TAG,
    RELEASE,
    SAMPLES,
    TRAINER_SELECTOR,
    Release,
    aggregator_metrics,
    all_pods_up,
    global_version,
    helm,
    is_ready,
    kube_json,
    list_devices,
    list_pods,
    metric,
    partition_groups,
    replaced,
    restart_counts,
    stop_producer,
    trainer_deployments,
    trainer_metrics,
    trainer_pod_ips,
    wait_for_results,
    watermarks,
)
from tests.support.testbed import (
    STATE,
    kubectl,
    real_node_placement,
    unique,
    wait_until,
)

pytestmark = [getattr(pytest.mark, "cluster-e2e"), pytest.mark.timeout(1800)]


def test_every_pod_ready_on_the_real_node_without_restarts(release: Release) -> None:
    """Proves the operator, aggregator, producer and every trainer the operator created become
    Ready on the real node (none on a KWOK node) with no container restarted: the images run
    with the chart's read-only root, UID without passwd entry and ServiceAccount tokens."""
    pods = wait_until(
        "every pod of the release Ready", lambda: all_pods_up(release.namespace), timeout=600
    )
    node = real_node_placement()["nodeSelector"]
    expected = kubectl(
        "get", "nodes", "-l", ",".join(f"{k}={v}" for k, v in node.items()), "-o", "name"
    ).stdout.split()
    assert [f"node/{p['spec']['nodeName']}" for p in pods] == expected * len(pods)
    assert restart_counts(pods) == dict.fromkeys(restart_counts(pods), 0), restart_counts(pods)


def test_one_trainer_deployment_per_partition_group(release: Release) -> None:
    """Proves the operator made exactly one trainer Deployment per partition group the 54
    devices fall into, each named as the devices' status says, each available."""
    groups = wait_until(
        "every device assigned", lambda: partition_groups(release.namespace), timeout=120
    )
    deployments = trainer_deployments(release.namespace)
    assert sorted(d["metadata"]["name"] for d in deployments) == sorted(set(groups.values()))
    assert len(deployments) == len(groups)
    for d in deployments:
        assert d["status"].get("availableReplicas") == d["spec"]["replicas"] == 1, d["status"]


def test_trainers_consume_readings(release: Release) -> None:
    """Proves every trainer pod consumes readings from the bed's Kafka through the node IP
    listener: flead_readings_consumed_total > 0 on each pod's own /metrics."""

    def consumed() -> dict[str, float] | None:
        ips = trainer_pod_ips(release.namespace)
        seen = {}
        for ip in ips:
            page = trainer_metrics(ip)
            if page is None:
                return None
            seen[ip] = metric(page, "flead_readings_consumed_total")
        return seen if ips and all(v > 0 for v in seen.values()) else None

    wait_until("every trainer's flead_readings_consumed_total > 0", consumed, timeout=300)


def test_aggregator_reaches_global_version_3(release: Release) -> None:
    """Proves trainers and aggregator federate for real (updates over the aggregator
    Service, registry in the MongoDB-wire server): the global version reaches 3."""
    wait_until(
        "global version >= 3 in the aggregator",
        lambda: (v := global_version(release.namespace)) is not None and v >= 3,
        timeout=600,
        interval=2,
    )


def test_trainers_federate_under_their_own_identities(release: Release) -> None:
    """Proves the federation above ran on workload identity, with no shared secret: the chart's
    Secret holds no aggregator token, each trainer pod runs as its group's ServiceAccount
    (labelled with the group) with a projected flead-aggregator token and no API token, and
    the aggregator counted its requests as allowed."""
    ns = release.namespace
    secret = kube_json("get", "secret", f"{RELEASE}-flead-credentials", "-n", ns)
    assert "FLEAD_AGGREGATOR_TOKEN" not in secret["data"]
    pods = kube_json("get", "pods", "-n", ns, "-l", TRAINER_SELECTOR)["items"]
    assert pods
    for pod in pods:
        spec, group = pod["spec"], pod["metadata"]["labels"]["flead.io/partition-group"]
        assert spec["serviceAccountName"] == f"flead-trainer-{group}"
        assert spec["automountServiceAccountToken"] is False
        sources = [
            src["serviceAccountToken"]
            for v in spec["volumes"]
            for src in v.get("projected", {}).get("sources", [])
            if "serviceAccountToken" in src
        ]
        assert sources == [
            {"audience": "flead-aggregator", "expirationSeconds": 600, "path": "token"}
        ]
        sa = kube_json("get", "serviceaccount", spec["serviceAccountName"], "-n", ns)
        assert sa["metadata"]["labels"]["flead.io/partition-group"] == group
    assert metric(aggregator_metrics(ns), 'flead_auth_total{outcome="allowed"}') > 0


INTRUDER = """
import socket, time, httpx, numpy as np
from flead.federation import Update
host, port = URL.split("//")[1].split(":")
for _ in range(30):  # a new pod's address reaches the policy controller's sets within moments
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        break
    except OSError:
        time.sleep(1)
blob = Update("intruder-1", "1", 10, 0, [np.zeros(2, np.float32)]).to_blob()
tokens = {
    "projected": "/var/run/secrets/flead.io/aggregator/token",
    "api": "/var/run/secrets/kubernetes.io/serviceaccount/token",
}
for name, path in tokens.items():
    auth = {"Authorization": "Bearer " + open(path).read().strip()}
    post = httpx.post(URL + "/api/local-update", content=blob, headers={
        **auth, "Content-Type": "application/octet-stream", "Idempotency-Key": "intruder-" + name})
    read = httpx.get(URL + "/api/global-model", headers=auth)
    print(name, post.status_code, post.json()["detail"]["reason"], read.status_code, flush=True)
"""


TRAINER_LIKE = {"app.kubernetes.io/component": "trainer", "app.kubernetes.io/part-of": "flead"}


def test_a_pod_running_as_another_serviceaccount_is_refused(release: Release) -> None:
    """Proves a pod on the real node running as a ServiceAccount the operator did not make
    gets 403 with a valid flead-aggregator token (for updates and the model) and 401 with its
    API-server token (wrong audience); the refusals are counted."""
    ns = release.namespace
    kubectl("create", "serviceaccount", "intruder", "-n", ns)
    url = f"http://{RELEASE}-flead-aggregator:8000"
    token = {"audience": "flead-aggregator", "expirationSeconds": 600, "path": "token"}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        # Labelled like a trainer, so the NetworkPolicies let it reach the aggregator: the
        # refusal below is the identity check's, not the network's.
        "metadata": {"name": "intruder", "labels": TRAINER_LIKE},
        "spec": {
            "serviceAccountName": "intruder",
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "intruder",
                    "image": f"flead-trainer:{IMAGE_TAG}",
                    "imagePullPolicy": "Never",
                    "command": ["python", "-c", f"URL = {url!r}\n{INTRUDER}"],
                    "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
                    "volumeMounts": [
                        {
                            "name": "aggregator-token",
                            "mountPath": "/var/run/secrets/flead.io/aggregator",
                        }
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "aggregator-token",
                    "projected": {"sources": [{"serviceAccountToken": token}]},
                }
            ],
        },
    }
    kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(pod))
    try:
        wait_until(
            "the intruder pod to finish",
            lambda: kube_json("get", "pod", "intruder", "-n", ns)["status"].get("phase")
            in ("Succeeded", "Failed"),
            timeout=180,
        )
        out = kubectl("logs", "intruder", "-n", ns).stdout.split("\n")
        assert "projected 403 not_a_trainer 403" in out, out
        assert "api 401 invalid_token 401" in out, out
    finally:
        kubectl("delete", "pod", "intruder", "-n", ns, "--wait=true", check=False)
        kubectl("delete", "serviceaccount", "intruder", "-n", ns, check=False)
    metrics = aggregator_metrics(ns)
    assert metric(metrics, 'flead_auth_total{outcome="forbidden"}') >= 2
    assert metric(metrics, 'flead_auth_total{outcome="unauthenticated"}') >= 2


PROBE = """
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[1])  # keep trying this long (new pods: see above)
for target in sys.argv[2:]:
    host, port = target.rsplit(":", 1)
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=3).close()
            print(target, "open", flush=True)
            break
        except OSError as exc:
            if time.monotonic() > deadline:
                print(target, "closed", type(exc).__name__, flush=True)
                break
            time.sleep(1)
"""


def _connect_from_pod(ns: str, name: str, labels: dict[str, str], targets: list[str]) -> dict:
    """Which of `targets` (host:port) a pod with `labels` on the real node can connect to
    within 20 s (a closed one is tried for all that time)."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "probe",
                    "image": f"flead-trainer:{IMAGE_TAG}",
                    "imagePullPolicy": "Never",
                    "command": ["python", "-c", PROBE, "20", *targets],
                    "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
                }
            ],
        },
    }
    kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(pod))
    try:
        wait_until(
            f"pod {name} to finish",
            lambda: kube_json("get", "pod", name, "-n", ns)["status"].get("phase")
            in ("Succeeded", "Failed"),
            timeout=180,
        )
        lines = kubectl("logs", name, "-n", ns).stdout.splitlines()
        return {line.split()[0]: line.split()[1] for line in lines if line.strip()}
    finally:
        kubectl("delete", "pod", name, "-n", ns, "--wait=true", check=False)


def _enforcing() -> bool:
    pid = STATE / "pids" / "kube-router.pid"
    return pid.exists() and Path(f"/proc/{pid.read_text().strip()}").exists()


def test_network_policies_fence_the_pods(
    release: Release, read_testbed_env: dict[str, str]
) -> None:
    """Proves the chart's NetworkPolicies hold on the real node (kube-router enforcing them):
    a pod outside the policies reaches neither the aggregator (Service or pod IP) nor a
    trainer's metrics port, while a pod labelled like a trainer reaches the aggregator; a pod
    labelled like the operator reaches the API server but neither the aggregator nor Kafka
    (its egress policy); and everything above (federation, scraping from the node) kept
    working under them."""
    if not _enforcing():
        pytest.skip("the real node enforces no NetworkPolicy (kube-router not running)")
    ns = release.namespace
    policies = {p["metadata"]["name"] for p in kube_json("get", "networkpolicy", "-n", ns)["items"]}
    assert {f"{RELEASE}-flead-aggregator", f"{RELEASE}-flead-operator"} <= policies
    aggregator = [
        p for p in kube_json("get", "pods", "-n", ns, "-l", AGGREGATOR)["items"] if is_ready(p)
    ]
    targets = [
        f"{RELEASE}-flead-aggregator:8000",
        f"{aggregator[0]['status']['podIP']}:8000",
        f"{trainer_pod_ips(ns)[0]}:9101",
    ]
    stranger = _connect_from_pod(ns, "stranger", {"app.kubernetes.io/name": "stranger"}, targets)
    assert stranger == dict.fromkeys(targets, "closed"), stranger
    trainer_like = _connect_from_pod(ns, "trainer-like", TRAINER_LIKE, targets[:2])
    assert trainer_like == dict.fromkeys(targets[:2], "open"), trainer_like
    operator = kube_json("get", "deployment", f"{RELEASE}-flead-operator", "-n", ns)
    kafka = read_testbed_env["TESTBED_NODE_KAFKA_BOOTSTRAP_SERVERS"].split(",")[0]
    egress = {"kubernetes.default.svc:443": "open", targets[0]: "closed", kafka: "closed"}
    operator_like = _connect_from_pod(
        ns, "operator-like", operator["spec"]["selector"]["matchLabels"], list(egress)
    )
    assert operator_like == egress, operator_like


def test_anomalies_are_published(release: Release) -> None:
    """Proves the trainers publish detected anomalies to the run's anomalies topic."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": release.bootstrap,
            "group.id": unique("e2e-anomalies"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([release.topics["anomalies"]])
    try:

        def one() -> Any:
            msg = consumer.poll(1.0)
            return msg if msg is not None and msg.error() is None else None

        msg = wait_until(f"a record in {release.topics['anomalies']}", one, timeout=600, interval=0)
        assert json.loads(msg.value())
    finally:
        consumer.close()


def test_every_federated_device_ready(release: Release) -> None:
    """Proves `kubectl get fd` shows all 54 devices Ready (their trainers available)."""

    def ready() -> bool:
        devices = list_devices(release.namespace)
        return len(devices) == 54 and all(
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in d.get("status", {}).get("conditions", [])
            )
            for d in devices
        )

    wait_until("54 FederatedDevices Ready", ready, timeout=300)
    out = kubectl("get", "fd", "-n", release.namespace).stdout
    assert len(out.strip().splitlines()) == 55


def test_helm_test_passes(release: Release) -> None:
    """Proves `helm test` passes: its pod (aggregator image) reaches the aggregator's
    /readyz through the Service name (CoreDNS + kube-proxy on the real node)."""
    out = helm(release, "test", RELEASE, "-n", release.namespace, "--timeout", "3m")
    assert "Phase:          Succeeded" in out, out


def test_no_pod_restarted_while_running(release: Release) -> None:
    """Proves that after all of the above no container of the release restarted (and that
    every pod is Ready again: readiness may flap while the bed's MongoDB is slow to answer)."""
    pods = wait_until(
        "every pod of the release Ready",
        lambda: (found := list_pods(release.namespace))
        and all(is_ready(p) for p in found)
        and found,
        timeout=90,
        interval=2,
    )
    assert restart_counts(pods) == dict.fromkeys(restart_counts(pods), 0), restart_counts(pods)


def test_trainer_and_aggregator_killed_mid_stream_lose_and_duplicate_nothing(
    release: Release,
) -> None:
    """Proves that SIGKILLing a trainer pod and the aggregator pod while readings stream in
    loses and duplicates nothing: the Deployments replace them, the replacement aggregator
    continues the registry's versions (federation resumes above the version before the kill),
    and once the producer stops every offset of every readings partition has exactly one
    durable result (the exactly-once check of the process-stack recovery tests)."""
    ns = release.namespace
    trainers = kube_json("get", "pods", "-n", ns, "-l", TRAINER_SELECTOR)["items"]
    victim = trainers[0]["metadata"]
    group = victim["labels"]["flead.io/partition-group"]
    old_aggregator = kube_json("get", "pods", "-n", ns, "-l", AGGREGATOR)["items"][0]["metadata"]
    before = wait_until("the global version", lambda: global_version(ns))
    kill = ("delete", "pod", "-n", ns, "--grace-period=0", "--force", "--wait=false")
    kubectl(*kill, victim["name"])
    kubectl(*kill, old_aggregator["name"])
    wait_until(
        f"a new Ready trainer pod of group {group}",
        lambda: replaced(
            ns, f"{TRAINER_SELECTOR},flead.io/partition-group={group}", victim["name"]
        ),
        timeout=180,
    )
    wait_until(
        "a new Ready aggregator pod",
        lambda: replaced(ns, AGGREGATOR, old_aggregator["name"]),
        timeout=180,
    )
    wait_until(
        f"the new aggregator's global version above {before}",
        lambda: (v := global_version(ns)) is not None and v > before,
        timeout=300,
        interval=2,
    )
    stop_producer(ns)
    ends = watermarks(release.bootstrap, release.topics["readings"])
    expected = {(p, o) for p, end in ends.items() for o in range(end)}
    assert len(expected) > 0
    counts = wait_for_results(release, expected)
    assert set(counts) == expected
    doubled = [k for k, v in counts.items() if v > 1]
    assert doubled == [], f"{len(doubled)} readings counted twice, e.g. {doubled[:5]}"


# The real node's kubelet --root-dir (testbed/lib/node.sh): projected volumes as the kubelet
# writes them, host side.
KUBELET_PODS = STATE / "node" / "kubelet" / "root" / "pods"
TOKEN_AUDIENCE = "flead-aggregator"
# The kubelet renews a projected token past 80 % of its 600 s (at its next sync of the pod):
# a token not replaced this long after its iat was not rotated.
ROTATED_WITHIN = 700.0
# A request counts as made after the first token's exp once the clock is this far past it:
# more than the trainer's HTTP timeout (3 s), so no request sent before exp is still running.
PAST_EXPIRY = 5.0


def _token_file(pod: dict) -> Path:
    """The host side of the pod's projected ServiceAccount token: the file its container sees."""
    volume = next(
        v["name"]
        for v in pod["spec"]["volumes"]
        if any("serviceAccountToken" in src for src in v.get("projected", {}).get("sources", []))
    )
    volumes = KUBELET_PODS / pod["metadata"]["uid"] / "volumes" / "kubernetes.io~projected"
    return volumes / volume / "token"


def _claims(token_file: Path) -> dict[str, Any] | None:
    """The JWT payload of the token in `token_file`, decoded, not verified (None while the
    kubelet swaps the file)."""
    try:
        payload = token_file.read_text().strip().split(".")[1]
    except (OSError, IndexError):
        return None
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _bound(claims: dict[str, Any]) -> dict[str, Any]:
    """What a ServiceAccount token is bound to: audience, ServiceAccount user, pod uid."""
    return {
        "aud": claims["aud"],
        "sub": claims["sub"],
        "pod": claims["kubernetes.io"]["pod"]["uid"],
    }


@dataclass(frozen=True)
class Federating:
    """One trainer's federation counters with the aggregator's authentication outcomes."""

    accepted: float  # the trainer's own flead_local_updates_sent_total{outcome="accepted"}
    version: float  # the global version the trainer adopted (flead_trainer_global_version)
    allowed: float  # the aggregator's flead_auth_total{outcome="allowed"}
    unauthenticated: float  # ... {outcome="unauthenticated"}: every 401, expired tokens too


def _federating(ns: str, trainer_ip: str) -> Federating | None:
    trainer = trainer_metrics(trainer_ip)
    try:
        aggregator = aggregator_metrics(ns)
    except (httpx.HTTPError, IndexError):
        return None
    if trainer is None:
        return None
    return Federating(
        metric(trainer, 'flead_local_updates_sent_total{outcome="accepted"}'),
        metric(trainer, "flead_trainer_global_version"),
        metric(aggregator, 'flead_auth_total{outcome="allowed"}'),
        metric(aggregator, 'flead_auth_total{outcome="unauthenticated"}'),
    )


@pytest.mark.timeout(ROTATED_WITHIN + 300)
def test_a_token_rotated_by_the_kubelet_keeps_working(release: Release) -> None:
    """Proves the kubelet rotates a trainer's projected token in place and the trainer keeps
    federating after its first token expired: the token file of the longest-running trainer pod
    (read on the node, where the kubelet writes the projected volume) is replaced by a token with
    later iat and exp, for the same audience, ServiceAccount and pod; once the clock is past the
    first token's exp, the aggregator accepts that trainer's updates (its own counter of accepted
    updates rises) and the trainer adopts a newer global version, while the aggregator counts
    allowed requests and not one 401.

    The token lives 600 s (the least Kubernetes allows) and the kubelet renews it at ~80 %: the
    waits run from the first token's iat, so the tests before this one count towards them; placed
    last before the uninstall, it adds what remains of ~10 min since the trainers started."""
    ns = release.namespace
    # The SIGKILL test stopped the producer: the trainer's updates need readings.
    kubectl("scale", "deployment", f"{RELEASE}-flead-producer", "-n", ns, "--replicas=1")
    trainers = kube_json("get", "pods", "-n", ns, "-l", TRAINER_SELECTOR)["items"]
    pod = min(
        (
            p
            for p in trainers
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
        ),
        key=lambda p: p["status"]["startTime"],
    )
    token_file = _token_file(pod)
    first = wait_until("the trainer's token", lambda: _claims(token_file), timeout=10)
    group = pod["metadata"]["labels"]["flead.io/partition-group"]
    identity = {
        "aud": [TOKEN_AUDIENCE],
        "sub": f"system:serviceaccount:{ns}:flead-trainer-{group}",
        "pod": pod["metadata"]["uid"],
    }

    assert _bound(first) == identity, first
    rotated = wait_until(
        f"the kubelet to rotate the token of {pod['metadata']['name']} (iat {first['iat']})",
        lambda: (c := _claims(token_file)) is not None and c["iat"] != first["iat"] and c,
        timeout=max(1.0, first["iat"] + ROTATED_WITHIN - time.time()),
        interval=5,
    )
    assert _bound(rotated) == identity, rotated
    assert rotated["iat"] > first["iat"], (first, rotated)
    assert rotated["exp"] > first["exp"], (first, rotated)
    expired = first["exp"] + PAST_EXPIRY
    wait_until(
        f"the clock past the first token's exp {first['exp']}",
        lambda: time.time() > expired,
        timeout=max(1.0, expired - time.time() + 5),
        interval=1,
    )
    ip = pod["status"]["podIP"]
    before = wait_until("the trainer's and the aggregator's metrics", lambda: _federating(ns, ip))
    after = wait_until(
        f"group {group}'s update accepted and a newer version adopted after the expiry",
        lambda: (now := _federating(ns, ip)) is not None
        and now.accepted > before.accepted
        and now.version > before.version
        and now,
        timeout=240,
        interval=2,
    )
    assert after.allowed > before.allowed, (before, after)
    assert after.unauthenticated == before.unauthenticated, (before, after)


def test_uninstall_leaves_only_the_crd(release: Release) -> None:
    """Proves deleting the devices removes their trainers, and `helm uninstall` then leaves
    nothing of the release in the namespace or cluster-wide but the FederatedDevice CRD."""
    ns = release.namespace
    kubectl("delete", "-n", ns, "-f", str(SAMPLES), "--wait=true", "--timeout=120s", timeout=150)
    wait_until("trainer Deployments deleted", lambda: not trainer_deployments(ns), timeout=120)
    helm(release, "uninstall", RELEASE, "-n", ns, "--wait", "--timeout", "3m")
    wait_until(
        "every pod gone", lambda: not kube_json("get", "pods", "-n", ns)["items"], timeout=120
    )
    kinds = "deployments,statefulsets,services,configmaps,secrets,serviceaccounts,roles,rolebindings,poddisruptionbudgets"
    left = [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in kube_json("get", kinds, "-n", ns)["items"]
        if o["metadata"]["name"] not in ("default", "kube-root-ca.crt")
    ]
    assert left == []
    cluster_wide = [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in kube_json(
            "get", "clusterroles,clusterrolebindings", "-l", f"app.kubernetes.io/instance={RELEASE}"
        )["items"]
    ]
    assert cluster_wide == []
    kubectl("get", "crd", "federateddevices.flead.io")
