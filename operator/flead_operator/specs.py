"""Pure builders of the trainer Deployment of one partition group.

Owner-reference strategy: one Deployment serves many FederatedDevices, and Kubernetes garbage
collection only deletes a dependent once ALL its owners are gone, so owner references would keep a
group's trainer alive after its devices moved elsewhere. Trainers therefore carry no owner
reference; they are labelled ``app.kubernetes.io/managed-by=flead-operator`` and the reconciler
deletes every labelled Deployment whose group has no device left (tested in tests/cluster).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from flead_operator.records import (
    ASSIGNMENT_LABEL,
    GROUP_LABEL,
    HASH_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PARTITIONS_ANNOTATION,
    DeviceRecord,
)
from flead_operator.settings import OperatorSettings

__all__ = [
    "ASSIGNMENT_FILE",
    "TOKEN_FILE",
    "assignment_configmap",
    "assignment_document",
    "assignment_name",
    "consumer_group",
    "selector_labels",
    "spec_hash",
    "trainer_deployment",
    "trainer_name",
    "trainer_serviceaccount",
]

METRICS_PORT_NAME = "http-metrics"
ASSIGNMENT_DIR = "/etc/flead/assignment"
ASSIGNMENT_KEY = "devices.json"
ASSIGNMENT_FILE = f"{ASSIGNMENT_DIR}/{ASSIGNMENT_KEY}"
TOKEN_DIR = "/var/run/secrets/flead.io/aggregator"
TOKEN_FILE = f"{TOKEN_DIR}/token"


def trainer_name(group: str) -> str:
    """Deterministic Deployment name of a group's trainer (restart-safe: no generateName)."""
    return f"flead-trainer-{group}"


def consumer_group(namespace: str, group: str) -> str:
    """Kafka consumer group id of a group's trainer; the namespace keeps tenants apart."""
    return f"flead-trainer.{namespace}.{group}"


def assignment_name(group: str) -> str:
    """Name of the ConfigMap that tells a group's trainer its devices."""
    return f"{trainer_name(group)}-devices"


def assignment_document(devices: Sequence[DeviceRecord]) -> dict[str, Any]:
    """What a group's trainer serves, by device id: paused, sensors, model overrides (the
    trainer's `flead_trainer.assignment` format); `revision` digests the devices."""
    entries: dict[str, dict[str, Any]] = {}
    for d in sorted(devices, key=lambda x: x.device_id):
        entry: dict[str, Any] = {"paused": d.paused}
        if d.sensors is not None:
            entry["sensors"] = list(d.sensors)
        if d.model:
            entry["model"] = dict(d.model)
        entries[d.device_id] = entry
    revision = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()[:16]
    return {"version": 1, "revision": revision, "devices": entries}


def assignment_configmap(
    namespace: str, group: str, devices: Sequence[DeviceRecord]
) -> dict[str, Any]:
    """The ConfigMap (server-side apply body) mounted into the group's trainer. Its content is
    not part of the Deployment's spec, so a change reaches the running trainer (the kubelet
    refreshes the mounted file) without restarting it."""
    doc = assignment_document(devices)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": assignment_name(group),
            "namespace": namespace,
            "labels": {**_labels(group), ASSIGNMENT_LABEL: doc["revision"]},
        },
        "data": {ASSIGNMENT_KEY: json.dumps(doc, sort_keys=True, separators=(",", ":"))},
    }


def trainer_serviceaccount(namespace: str, group: str) -> dict[str, Any]:
    """The group's own ServiceAccount (server-side apply body): the identity its trainer proves
    to the aggregator with a projected token. The aggregator maps it to the group through the
    ``flead.io/partition-group`` label, which only the operator writes. No API permissions are
    bound to it, and no token is mounted by default (the pod projects its own)."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": trainer_name(group), "namespace": namespace, "labels": _labels(group)},
        "automountServiceAccountToken": False,
    }


def selector_labels(group: str) -> dict[str, str]:
    """Labels selecting a group's trainer pods (immutable once the Deployment exists)."""
    return {"app.kubernetes.io/component": "trainer", GROUP_LABEL: group}


def _labels(group: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "flead-trainer",
        "app.kubernetes.io/instance": trainer_name(group),
        "app.kubernetes.io/part-of": "flead",
        MANAGED_BY_LABEL: MANAGED_BY,
        **selector_labels(group),
    }


def _container(
    namespace: str, group: str, partitions: Sequence[int], s: OperatorSettings
) -> dict[str, Any]:
    env_from: list[dict[str, Any]] = []
    if s.trainer_configmap:
        env_from.append({"configMapRef": {"name": s.trainer_configmap}})
    if s.trainer_secret:
        env_from.append({"secretRef": {"name": s.trainer_secret}})
    probe = {"port": METRICS_PORT_NAME}
    return {
        "name": "trainer",
        "image": s.trainer_image,
        "imagePullPolicy": s.trainer_image_pull_policy,
        "env": [
            {"name": "FLEAD_PARTITIONS", "value": ",".join(str(p) for p in partitions)},
            {"name": "FLEAD_PARTITION_GROUP", "value": group},
            {"name": "FLEAD_CONSUMER_GROUP", "value": consumer_group(namespace, group)},
            {"name": "FLEAD_METRICS_PORT", "value": str(s.trainer_metrics_port)},
            {"name": "FLEAD_TRAINER_ASSIGNMENT_FILE", "value": ASSIGNMENT_FILE},
            {"name": "FLEAD_TRAINER_TOKEN_FILE", "value": TOKEN_FILE},
        ],
        "envFrom": env_from,
        "ports": [
            {"name": METRICS_PORT_NAME, "containerPort": s.trainer_metrics_port, "protocol": "TCP"}
        ],
        "livenessProbe": {
            "httpGet": {"path": s.trainer_liveness_path, **probe},
            "periodSeconds": 20,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": s.trainer_readiness_path, **probe},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
        },
        "resources": {
            "requests": {"cpu": s.trainer_cpu_request, "memory": s.trainer_memory_request},
            "limits": {"cpu": s.trainer_cpu_limit, "memory": s.trainer_memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "assignment", "mountPath": ASSIGNMENT_DIR, "readOnly": True},
            {"name": "aggregator-token", "mountPath": TOKEN_DIR, "readOnly": True},
        ],
    }


def _token_volume(s: OperatorSettings) -> dict[str, Any]:
    """A short-lived token of the group's ServiceAccount for the aggregator's audience only; the
    kubelet rewrites the file before it expires (the trainer reads it before each request)."""
    token = {
        "audience": s.trainer_token_audience,
        "expirationSeconds": s.trainer_token_expiration_seconds,
        "path": "token",
    }
    return {
        "name": "aggregator-token",
        "projected": {"sources": [{"serviceAccountToken": token}]},
    }


def spec_hash(body: dict[str, Any]) -> str:
    """Short digest of a desired Deployment, kept in an annotation so unchanged specs cost nothing."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def trainer_deployment(
    namespace: str,
    group: str,
    partitions: Sequence[int],
    s: OperatorSettings,
    assignment_hash: str = "",
) -> dict[str, Any]:
    """The complete desired Deployment (server-side apply body) of one group's trainer.

    `assignment_hash` (the revision of the group's device ConfigMap, applied first) is a label
    of the Deployment, outside the spec hash and the pod template: recording it neither rolls
    the pods nor bumps the Deployment's generation (annotations would), and lets the plan see
    which assignment was last applied without a ConfigMap index.
    """
    labels = _labels(group)
    uid = s.trainer_run_as_user
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": trainer_name(group),
            "namespace": namespace,
            "labels": labels,
            "annotations": {PARTITIONS_ANNOTATION: ",".join(str(p) for p in partitions)},
        },
        "spec": {
            "replicas": 1,
            # Two trainers must never own the same partitions at once (checkpoints, offsets).
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": selector_labels(group)},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": trainer_name(group),
                    # No API token: only the aggregator's audience-bound one, projected below.
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": uid,
                        "runAsGroup": uid,
                        "fsGroup": uid,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_container(namespace, group, partitions, s)],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                        {"name": "assignment", "configMap": {"name": assignment_name(group)}},
                        _token_volume(s),
                    ],
                },
            },
        },
    }
    body["metadata"]["annotations"][HASH_ANNOTATION] = spec_hash(body)
    if assignment_hash:  # a label: unlike an annotation it does not bump the generation
        body["metadata"]["labels"] = {**labels, ASSIGNMENT_LABEL: assignment_hash}
    return body
