"""`helm lint` and `helm template` of charts/flead: what every object must carry, value by value.

Needs a helm binary (the test bed builds one); pure otherwise: nothing is sent to a server.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
import yaml
from deploy.manifests import KUBE_VERSION

from .support import (
    CHART,
    DASHBOARDS_DIR,
    PRODUCTION_VALUES,
    STACK_CHART,
    by_kind,
    helm,
    helm_template,
    pod_specs,
)

pytestmark = pytest.mark.unit

MONITORING_ON = (
    "monitoring.serviceMonitor.enabled=true",
    "monitoring.prometheusRule.enabled=true",
    "producer.enabled=true",
)


@pytest.fixture(scope="module")
def default_docs() -> list[dict]:
    """Objects of the chart with default values."""
    return helm_template()


@pytest.fixture(scope="module")
def full_docs() -> list[dict]:
    """Objects of the chart with every optional part on (producer, monitoring)."""
    return helm_template(set_values=MONITORING_ON)


@pytest.mark.parametrize("values", [None, PRODUCTION_VALUES], ids=["default", "production"])
def test_helm_lint_strict(values: Path | None) -> None:
    """helm lint --strict passes with the default and the production-like values."""
    args = ["lint", "--strict", str(CHART)] + (["-f", str(values)] if values else [])
    result = helm(*args, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_object_has_recommended_labels(full_docs: list[dict]) -> None:
    """app.kubernetes.io/{name,instance,component,version,managed-by,part-of} and helm.sh/chart."""
    for doc in full_docs:
        labels = doc["metadata"].get("labels", {})
        for key in ("name", "instance", "component", "version", "managed-by", "part-of"):
            assert f"app.kubernetes.io/{key}" in labels, f"{doc['kind']}/{doc['metadata']['name']}"
        assert "helm.sh/chart" in labels


def test_security_context_resources_and_probes_everywhere(full_docs: list[dict]) -> None:
    """Every pod runs as non-root with a read-only root FS, dropped caps, resources and probes."""
    specs = dict(pod_specs(full_docs))
    assert {
        "Deployment/t-flead-operator",
        "Deployment/t-flead-aggregator",
        "Deployment/t-flead-producer",
        "StatefulSet/t-flead-kafka",
        "StatefulSet/t-flead-mongodb",
        "Pod/t-flead-test-readyz",
    } <= set(specs)
    for name, spec in specs.items():
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True, name
        assert pod_sc["runAsUser"] > 0, name
        assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"], name
            assert container["resources"]["limits"], name
            if not name.startswith("Pod/"):  # the helm test pod runs to completion
                assert "livenessProbe" in container, name
                assert "readinessProbe" in container, name
            writable = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in writable, f"{name} has no writable /tmp"


def test_operator_is_single_replica_recreate(default_docs: list[dict]) -> None:
    """kopf's rule: one operator replica, replaced with Recreate, with the env the operator reads."""
    (operator,) = [
        d for d in by_kind(default_docs, "Deployment") if "operator" in d["metadata"]["name"]
    ]
    assert operator["spec"]["replicas"] == 1
    assert operator["spec"]["strategy"] == {"type": "Recreate"}
    spec = operator["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "t-flead-operator"
    container = spec["containers"][0]
    assert container["args"] == ["--all-namespaces"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["FLEAD_OPERATOR_TRAINER_IMAGE"] == "flead-trainer:0.1.0"
    assert env["FLEAD_OPERATOR_TRAINER_CONFIGMAP"] == "t-flead-trainer"
    assert env["FLEAD_OPERATOR_TRAINER_SECRET"] == "t-flead-credentials"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_aggregator_is_replaced_with_recreate(default_docs: list[dict]) -> None:
    """Two aggregators never run side by side (each would close rounds from its own memory):
    one replica, replaced with Recreate on every upgrade."""
    (aggregator,) = [
        d
        for d in by_kind(default_docs, "Deployment")
        if d["metadata"]["name"] == "t-flead-aggregator"
    ]
    assert aggregator["spec"]["replicas"] == 1
    assert aggregator["spec"]["strategy"] == {"type": "Recreate"}


def test_operator_gets_its_kopf_identity_from_the_downward_api(default_docs: list[dict]) -> None:
    """POD_ID = the pod's name: without it kopf calls getpass.getuser(), which raises KeyError for
    UID 10001 (no passwd entry under containerd or Docker) and crash-loops the operator."""
    (operator,) = [
        d for d in by_kind(default_docs, "Deployment") if "operator" in d["metadata"]["name"]
    ]
    env = {e["name"]: e for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["POD_ID"] == {
        "name": "POD_ID",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    }


def flead_images(docs: list[dict]) -> dict[str, tuple[str, str]]:
    """(image, pull policy) of each FLEAD container, and of the trainers the operator creates."""
    out = {}
    for name, spec in pod_specs(docs):
        for container in spec["containers"]:
            if "flead-" in container["image"].rsplit("/", 1)[-1]:
                out[name] = (container["image"], container["imagePullPolicy"])
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if "FLEAD_OPERATOR_TRAINER_IMAGE" in env:
                out["trainer"] = (
                    env["FLEAD_OPERATOR_TRAINER_IMAGE"],
                    env["FLEAD_OPERATOR_TRAINER_IMAGE_PULL_POLICY"],
                )
    return out


def test_images_default_to_the_names_make_images_builds(full_docs: list[dict]) -> None:
    """No registry by default (none publishes FLEAD): flead-<component>:<appVersion>."""
    images = flead_images(full_docs)
    assert {image.split(":")[0] for image, _ in images.values()} == {
        "flead-operator",
        "flead-trainer",
        "flead-aggregator",
        "flead-producer",
    }
    assert {image.split(":")[1] for image, _ in images.values()} == {"0.1.0"}
    assert {policy for _, policy in images.values()} == {"IfNotPresent"}


def test_image_registry_tag_and_pull_policy_apply_to_every_flead_image() -> None:
    """image.* sets all four at once (local images: tag dev, Never); a component's own value wins."""
    docs = helm_template(
        set_values=[
            "producer.enabled=true",
            "image.registry=registry.example.com:5000/flead/",
            "image.tag=dev",
            "image.pullPolicy=Never",
            "trainer.image.tag=sha256:" + "a" * 64,
            "aggregator.image.registry=other.example.com",
            "aggregator.image.pullPolicy=Always",
        ]
    )
    images = flead_images(docs)
    assert images["trainer"] == (
        "registry.example.com:5000/flead/flead-trainer@sha256:" + "a" * 64,
        "Never",
    )
    assert images["Deployment/t-flead-operator"] == (
        "registry.example.com:5000/flead/flead-operator:dev",
        "Never",
    )
    assert images["Deployment/t-flead-producer"][0].endswith("/flead/flead-producer:dev")
    assert images["Deployment/t-flead-aggregator"] == (
        "other.example.com/flead-aggregator:dev",
        "Always",
    )
    assert images["Pod/t-flead-test-readyz"] == images["Deployment/t-flead-aggregator"]
    kafka = next(d for d in by_kind(docs, "StatefulSet") if "kafka" in d["metadata"]["name"])
    assert kafka["spec"]["template"]["spec"]["containers"][0]["image"].startswith("apache/kafka:")


def test_watch_namespaces_replace_all_namespaces() -> None:
    """operator.watchNamespaces turns --all-namespaces into one --namespace per entry."""
    docs = helm_template(set_values=["operator.watchNamespaces={a,b}"])
    (operator,) = [d for d in by_kind(docs, "Deployment") if "operator" in d["metadata"]["name"]]
    assert operator["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "--namespace=a",
        "--namespace=b",
    ]


def test_credentials_secret_generated_or_given(default_docs: list[dict]) -> None:
    """No shared token by default (ServiceAccount tokens); with aggregator.auth.mode=static a
    random 48-character token when none is given, the given one otherwise; no Secret at all
    with existingSecret."""
    (secret,) = by_kind(default_docs, "Secret")
    assert "FLEAD_AGGREGATOR_TOKEN" not in secret["data"]
    uri = base64.b64decode(secret["data"]["FLEAD_MONGODB_URI"]).decode()
    assert uri == "mongodb://t-flead-mongodb.flead-test.svc:27017/flead"
    static = helm_template(set_values=["aggregator.auth.mode=static"])
    (secret,) = by_kind(static, "Secret")
    token = base64.b64decode(secret["data"]["FLEAD_AGGREGATOR_TOKEN"]).decode()
    assert len(token) == 48
    assert token.isalnum()
    given = helm_template(
        set_values=["aggregator.auth.mode=static", "credentials.aggregatorToken=s3cret"]
    )
    (secret,) = by_kind(given, "Secret")
    assert base64.b64decode(secret["data"]["FLEAD_AGGREGATOR_TOKEN"]) == b"s3cret"
    external = helm_template(set_values=["credentials.existingSecret=mine"])
    assert not by_kind(external, "Secret")
    (aggregator,) = [
        d for d in by_kind(external, "Deployment") if "aggregator" in d["metadata"]["name"]
    ]
    env_from = aggregator["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert env_from == [{"secretRef": {"name": "mine"}}]


def test_token_lookup_keeps_the_token_across_upgrades() -> None:
    """The Secret template reads the release's existing Secret back with `lookup` before generating."""
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert 'lookup "v1" "Secret" .Release.Namespace' in helpers
    assert "randAlphaNum" in helpers


def test_trainer_configmap_points_at_kafka_and_the_aggregator(default_docs: list[dict]) -> None:
    """The trainers' env: in-cluster FQDNs (trainers may live in other namespaces)."""
    (cm,) = [
        d for d in by_kind(default_docs, "ConfigMap") if d["metadata"]["name"] == "t-flead-trainer"
    ]
    assert cm["data"]["FLEAD_KAFKA_BOOTSTRAP_SERVERS"] == "t-flead-kafka.flead-test.svc:9092"
    assert cm["data"]["FLEAD_AGGREGATOR_URL"] == "http://t-flead-aggregator.flead-test.svc:8000"
    assert cm["data"]["FLEAD_READINGS_PARTITIONS"] == "12"


def test_external_kafka_and_mongodb_replace_the_dev_ones() -> None:
    """Production values: no Kafka/MongoDB StatefulSets, the external servers are used."""
    docs = helm_template(PRODUCTION_VALUES)
    assert not by_kind(docs, "StatefulSet")
    (cm,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == "t-flead-trainer"]
    assert cm["data"]["FLEAD_KAFKA_BOOTSTRAP_SERVERS"].startswith("kafka-0.kafka.data.svc:9092")


def test_external_kafka_is_required_without_the_dev_one() -> None:
    """kafka.enabled=false without externalKafka.bootstrapServers fails with a clear message."""
    result = helm(
        "template", "t", str(CHART), "--kube-version", KUBE_VERSION, "--set", "kafka.enabled=false",
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "externalKafka.bootstrapServers is required" in result.stderr


def test_dev_kafka_is_kraft_from_the_official_image(default_docs: list[dict]) -> None:
    """apache/kafka in combined KRaft mode with a stable 22-character cluster id."""
    (sts,) = [
        d for d in by_kind(default_docs, "StatefulSet") if d["metadata"]["name"] == "t-flead-kafka"
    ]
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("apache/kafka:")
    env = {e["name"]: e["value"] for e in container["env"]}
    assert len(env["KAFKA_CLUSTER_ID"]) == 22
    (cm,) = [
        d for d in by_kind(default_docs, "ConfigMap") if d["metadata"]["name"] == "t-flead-kafka"
    ]
    assert "process.roles=broker,controller" in cm["data"]["server.properties"]
    (mongo,) = [
        d for d in by_kind(default_docs, "StatefulSet") if "mongodb" in d["metadata"]["name"]
    ]
    assert mongo["spec"]["template"]["spec"]["containers"][0]["image"].startswith("mongo:")


def test_producer_is_optional(default_docs: list[dict], full_docs: list[dict]) -> None:
    """producer.enabled=false (default) renders no producer; true renders Deployment and Service."""
    assert not [d for d in default_docs if "producer" in d["metadata"]["name"]]
    names = {(d["kind"], d["metadata"]["name"]) for d in full_docs}
    assert ("Deployment", "t-flead-producer") in names
    assert ("Service", "t-flead-producer-metrics") in names


def test_monitoring_objects_are_gated_and_labelled(default_docs: list[dict]) -> None:
    """ServiceMonitors/PodMonitor/PrometheusRule only when enabled, with the extra labels given."""
    assert not by_kind(default_docs, "ServiceMonitor")
    assert not by_kind(default_docs, "PrometheusRule")
    docs = helm_template(
        set_values=[
            *MONITORING_ON,
            "monitoring.serviceMonitor.labels.release=kps",
            "monitoring.prometheusRule.labels.release=kps",
        ]
    )
    monitors = by_kind(docs, "ServiceMonitor")
    assert {m["metadata"]["name"] for m in monitors} == {
        "t-flead-aggregator",
        "t-flead-operator",
        "t-flead-producer",
    }
    for m in [*monitors, *by_kind(docs, "PodMonitor"), *by_kind(docs, "PrometheusRule")]:
        assert m["metadata"]["labels"]["release"] == "kps"
    jobs = {m["spec"]["endpoints"][0]["relabelings"][0]["replacement"] for m in monitors}
    assert jobs == {"flead-aggregator", "flead-operator", "flead-producer"}
    (pod_monitor,) = by_kind(docs, "PodMonitor")
    relabel = pod_monitor["spec"]["podMetricsEndpoints"][0]["relabelings"]
    assert {
        "action": "replace",
        "sourceLabels": ["__meta_kubernetes_pod_label_flead_io_partition_group"],
        "targetLabel": "group",
    } in relabel
    (rule,) = by_kind(docs, "PrometheusRule")
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert alerts == {
        "FleadAggregatorDown",
        "FleadNoNewGlobalVersion",
        "FleadTrainerConsumerLagHigh",
        "FleadDeadLetters",
        "FleadAnomalyRateSpike",
        "FleadOperatorReconcileErrors",
    }


def test_dashboard_configmaps_carry_the_committed_json(default_docs: list[dict]) -> None:
    """One ConfigMap per dashboard, labelled grafana_dashboard: "1", JSON identical to the files."""
    maps = [d for d in by_kind(default_docs, "ConfigMap") if "-dashboard-" in d["metadata"]["name"]]
    files = sorted(DASHBOARDS_DIR.glob("*.json"))
    assert len(maps) == len(files) == 3
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((key, text),) = cm["data"].items()
        stem = key.removeprefix("flead-").removesuffix(".json")
        assert json.loads(text) == json.loads((DASHBOARDS_DIR / f"{stem}.json").read_text())


def test_helm_test_hook_checks_readyz(default_docs: list[dict]) -> None:
    """The helm test Pod is a test hook that GETs the aggregator Service's /readyz."""
    (pod,) = by_kind(default_docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][-1]
    assert "http://t-flead-aggregator.flead-test.svc:8000/readyz" in script


def test_notes_tell_the_user_what_to_do_next(tmp_path: Path) -> None:
    """NOTES.txt renders and names the next commands (rendered through `tpl` in a chart copy,
    since `helm template` skips NOTES and `helm install --dry-run` needs a cluster)."""
    chart = tmp_path / "flead"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "NOTES.txt").rename(chart / "notes-src.txt")
    (chart / "templates" / "zz-notes.yaml").write_text(
        'notes: {{ tpl (.Files.Get "notes-src.txt") . | toJson }}\n'
    )
    docs = helm_template(chart=chart, extra=["--show-only", "templates/zz-notes.yaml"])
    notes = docs[0]["notes"]
    for text in (
        "helm test t",
        "kubectl apply -n flead-test -f manifests/samples/",
        "port-forward svc/t-flead-aggregator",
        "for development only",
    ):
        assert text in notes


def test_umbrella_chart_renders_flead_with_monitoring_on(tmp_path: Path) -> None:
    """charts/flead-stack (kube-prometheus-stack replaced by an empty stand-in chart, since it
    cannot be downloaded here) renders FLEAD with ServiceMonitors, PodMonitor, rule and dashboards."""
    stack = tmp_path / "flead-stack"
    shutil.copytree(STACK_CHART, stack)
    shutil.copytree(CHART, stack / "charts" / "flead")
    stub = stack / "charts" / "kube-prometheus-stack"
    stub.mkdir(parents=True)
    chart = yaml.safe_load((STACK_CHART / "Chart.yaml").read_text())
    version = {d["name"]: d["version"] for d in chart["dependencies"]}["kube-prometheus-stack"]
    (stub / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: kube-prometheus-stack\nversion: {version}\n"
    )
    lint = helm("lint", str(stack), check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    docs = helm_template(chart=stack, release="flead", namespace="flead")
    kinds = {d["kind"] for d in docs}
    assert {"ServiceMonitor", "PodMonitor", "PrometheusRule"} <= kinds
    dashboards = [d for d in by_kind(docs, "ConfigMap") if "-dashboard-" in d["metadata"]["name"]]
    assert all(d["metadata"]["annotations"]["grafana_folder"] == "FLEAD" for d in dashboards)
    names = {d["metadata"]["name"] for d in docs}
    assert "flead-aggregator" in names  # the name skaffold.yaml port-forwards


def test_dev_reload_runs_uvicorn_with_reload() -> None:
    """aggregator.dev.reload (Skaffold's dev profile) swaps the entry point for uvicorn --reload."""
    docs = helm_template(set_values=["aggregator.dev.reload=true"])
    (aggregator,) = [
        d for d in by_kind(docs, "Deployment") if "aggregator" in d["metadata"]["name"]
    ]
    command = aggregator["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:3] == ["uvicorn", "flead_aggregator.app:create_app", "--factory"]
    assert "--reload" in command
