"""Trainer Deployment builder: assignment in env, labels, security, probes, stable hashing."""

from __future__ import annotations

import json

import pytest

from flead_operator.records import ASSIGNMENT_LABEL, HASH_ANNOTATION, DeviceRecord
from flead_operator.settings import OperatorSettings
from flead_operator.specs import (
    ASSIGNMENT_FILE,
    TOKEN_FILE,
    assignment_configmap,
    consumer_group,
    trainer_deployment,
    trainer_name,
    trainer_serviceaccount,
)

pytestmark = pytest.mark.unit

SETTINGS = OperatorSettings(
    trainer_image="flead-trainer:test", trainer_configmap="cm", trainer_secret="creds"
)


def _container(body: dict) -> dict:
    return body["spec"]["template"]["spec"]["containers"][0]


def test_env_carries_the_group_assignment() -> None:
    """FLEAD_PARTITIONS, FLEAD_PARTITION_GROUP and FLEAD_CONSUMER_GROUP reach the trainer."""
    body = trainer_deployment("lab", "p4-7", (4, 5, 6, 7), SETTINGS)
    env = {e["name"]: e["value"] for e in _container(body)["env"]}
    assert env["FLEAD_PARTITIONS"] == "4,5,6,7"
    assert env["FLEAD_PARTITION_GROUP"] == "p4-7"
    assert env["FLEAD_CONSUMER_GROUP"] == consumer_group("lab", "p4-7") == "flead-trainer.lab.p4-7"
    assert _container(body)["envFrom"] == [
        {"configMapRef": {"name": "cm"}},
        {"secretRef": {"name": "creds"}},
    ]


def test_names_and_labels_are_deterministic() -> None:
    """Name flead-trainer-<group>, standard labels, the group label, a selector on both."""
    body = trainer_deployment("lab", "p0-3", (0, 1, 2, 3), SETTINGS)
    meta = body["metadata"]
    assert meta["name"] == trainer_name("p0-3") == "flead-trainer-p0-3"
    assert meta["namespace"] == "lab"
    labels = meta["labels"]
    assert labels["flead.io/partition-group"] == "p0-3"
    assert labels["app.kubernetes.io/managed-by"] == "flead-operator"
    assert labels["app.kubernetes.io/component"] == "trainer"
    assert labels["app.kubernetes.io/part-of"] == "flead"
    selector = body["spec"]["selector"]["matchLabels"]
    assert selector.items() <= body["spec"]["template"]["metadata"]["labels"].items()
    assert "ownerReferences" not in meta  # clean-up is explicit, see specs.py


def test_pod_runs_non_root_with_a_read_only_root_filesystem() -> None:
    """runAsNonRoot, no privilege escalation, all capabilities dropped, /tmp as emptyDir."""
    body = trainer_deployment("lab", "p0-3", (0,), SETTINGS)
    pod = body["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    sc = _container(body)["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert _container(body)["volumeMounts"][0] == {"name": "tmp", "mountPath": "/tmp"}


def test_probes_and_resources() -> None:
    """Probes hit the trainer's metrics port; requests and limits come from settings."""
    container = _container(trainer_deployment("lab", "p0-3", (0,), SETTINGS))
    assert container["ports"][0] == {
        "name": "http-metrics",
        "containerPort": 9101,
        "protocol": "TCP",
    }
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}


def test_no_configmap_or_secret_means_no_env_from() -> None:
    """Empty names leave envFrom empty instead of pointing at a missing object."""
    container = _container(trainer_deployment("lab", "p0-3", (0,), OperatorSettings()))
    assert container["envFrom"] == []


def test_spec_hash_is_stable_and_tracks_changes() -> None:
    """Same input -> same hash (no churn after a restart); other partitions -> another hash."""
    a = trainer_deployment("lab", "p0-3", (0, 1, 2, 3), SETTINGS)
    b = trainer_deployment("lab", "p0-3", (0, 1, 2, 3), SETTINGS)
    c = trainer_deployment("lab", "p0-3", (0, 2, 3), SETTINGS)
    hashes = [x["metadata"]["annotations"][HASH_ANNOTATION] for x in (a, b, c)]
    assert hashes[0] == hashes[1] != hashes[2]


def test_the_trainer_mounts_its_group_device_configmap() -> None:
    """The group's device ConfigMap is mounted read-only where FLEAD_TRAINER_ASSIGNMENT_FILE
    points."""
    body = trainer_deployment("lab", "p0-3", (0,), SETTINGS)
    env = {e["name"]: e["value"] for e in _container(body)["env"]}
    mount = _container(body)["volumeMounts"][1]
    assert env["FLEAD_TRAINER_ASSIGNMENT_FILE"] == ASSIGNMENT_FILE
    assert ASSIGNMENT_FILE.startswith(mount["mountPath"] + "/")
    assert mount["readOnly"] is True
    volumes = body["spec"]["template"]["spec"]["volumes"]
    assert {"name": "assignment", "configMap": {"name": "flead-trainer-p0-3-devices"}} in volumes


def test_device_configmap_carries_paused_sensors_and_model() -> None:
    """Each device of the group by deviceId, with its paused flag, sensors and model overrides."""
    devices = [
        DeviceRecord("a", "lab", "7", None, None, False, 1, sensors=("temperature",)),
        DeviceRecord("b", "lab", "8", None, None, True, 1, model={"learningRate": "0.01"}),
    ]
    cm = assignment_configmap("lab", "p0-3", devices)
    doc = json.loads(cm["data"]["devices.json"])
    assert doc["version"] == 1
    assert doc["devices"] == {
        "7": {"paused": False, "sensors": ["temperature"]},
        "8": {"paused": True, "model": {"learningRate": "0.01"}},
    }
    assert cm["metadata"]["labels"][ASSIGNMENT_LABEL] == doc["revision"]
    other = assignment_configmap("lab", "p0-3", devices[:1])
    assert other["metadata"]["labels"][ASSIGNMENT_LABEL] != doc["revision"]


def test_assignment_revision_does_not_change_the_pod_spec() -> None:
    """A new assignment is recorded on the Deployment's metadata only: same spec hash, no
    rollout, so the trainer keeps running and re-reads its mounted file."""
    one = trainer_deployment("lab", "p0-3", (0,), SETTINGS, "rev-1")
    two = trainer_deployment("lab", "p0-3", (0,), SETTINGS, "rev-2")
    assert one["spec"] == two["spec"]
    hashes = {b["metadata"]["annotations"][HASH_ANNOTATION] for b in (one, two)}
    assert len(hashes) == 1
    assert two["metadata"]["labels"][ASSIGNMENT_LABEL] == "rev-2"


def test_each_group_runs_as_its_own_serviceaccount() -> None:
    """The pod runs as flead-trainer-<group>, which carries the group label the aggregator reads
    and mounts no API token of its own."""
    body = trainer_deployment("lab", "p4-7", (4, 5, 6, 7), SETTINGS)
    sa = trainer_serviceaccount("lab", "p4-7")
    pod = body["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"] == "flead-trainer-p4-7"
    assert pod["automountServiceAccountToken"] is False
    assert sa["kind"] == "ServiceAccount"
    assert sa["metadata"]["namespace"] == "lab"
    assert sa["metadata"]["labels"]["flead.io/partition-group"] == "p4-7"
    assert sa["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "flead-operator"
    assert sa["automountServiceAccountToken"] is False
    other = trainer_deployment("lab", "p0-3", (0,), SETTINGS)["spec"]["template"]["spec"]
    assert other["serviceAccountName"] != pod["serviceAccountName"]


def test_the_trainer_gets_a_short_lived_aggregator_token() -> None:
    """A projected token for audience flead-aggregator, 600 s by default, mounted read-only
    where FLEAD_TRAINER_TOKEN_FILE points; both settings reach the spec."""
    body = trainer_deployment("lab", "p0-3", (0,), SETTINGS)
    env = {e["name"]: e["value"] for e in _container(body)["env"]}
    assert env["FLEAD_TRAINER_TOKEN_FILE"] == TOKEN_FILE
    (mount,) = [m for m in _container(body)["volumeMounts"] if m["name"] == "aggregator-token"]
    assert mount["mountPath"] + "/token" == TOKEN_FILE
    assert mount["readOnly"] is True
    volumes = {v["name"]: v for v in body["spec"]["template"]["spec"]["volumes"]}
    (source,) = volumes["aggregator-token"]["projected"]["sources"]
    assert source == {
        "serviceAccountToken": {
            "audience": "flead-aggregator",
            "expirationSeconds": 600,
            "path": "token",
        }
    }
    s = OperatorSettings(trainer_token_audience="other", trainer_token_expiration_seconds=3600)
    volumes = trainer_deployment("lab", "p0-3", (0,), s)["spec"]["template"]["spec"]["volumes"]
    token = volumes[-1]["projected"]["sources"][0]["serviceAccountToken"]
    assert (token["audience"], token["expirationSeconds"]) == ("other", 3600)


def test_token_lifetime_is_at_least_what_the_api_server_accepts() -> None:
    """The API server refuses projected tokens shorter than 10 minutes: so do the settings."""
    with pytest.raises(ValueError, match="600"):
        OperatorSettings(trainer_token_expiration_seconds=60)
