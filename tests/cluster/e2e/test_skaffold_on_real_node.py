"""skaffold for real: ``skaffold build`` and ``skaffold run -p local-registry`` on the test bed.

skaffold (built from its Go module, SKAFFOLD_VERSION, by testbed/build.sh) builds the four
images with its custom builder scripts/skaffold-build.sh (scripts/images.sh: podman/buildah,
no Docker engine) and pushes them to the bed's registry (testbed/registry.sh: CNCF
distribution, plain http on the node IP). ``skaffold run`` then installs charts/flead with each
image pinned by its pushed digest, and the real node's containerd pulls them from the registry
(its hosts.toml, testbed/lib/node.sh). The namespace carries the real node's scheduling
annotations, so every pod (the operator's trainers too) lands on it. ``skaffold delete``
uninstalls. The module runs in order: the tests share what the first built.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.e2e.release import SAMPLES, is_ready, kube_json, list_pods
from tests.support.testbed import (
    REPO,
    kubectl,
    real_node_placement,
    require_real_node,
    run,
    unique,
    wait_until,
)

# The first run builds skaffold (~20 min cold on 2 busy cores) and the registry in the fixture.
pytestmark = [getattr(pytest.mark, "cluster-e2e"), pytest.mark.timeout(3600)]

COMPONENTS = ("operator", "trainer", "aggregator", "producer")
PROFILE = "local-registry"
# The run's topics and database, as the profile names them (skaffold.yaml).
TOPICS = [f"flead.{t}.skaffold" for t in ("readings", "labels", "anomalies", "dead-letter")]
DATABASE = "flead_skaffold"


@dataclass
class Skaffold:
    binary: str
    env: dict[str, str]
    registry: str  # host:port
    namespace: str
    builds: dict[str, str]  # image name -> tag skaffold built and pushed (filled by the first test)


def _drop_run_data() -> None:
    from confluent_kafka.admin import AdminClient
    from pymongo import MongoClient

    admin = AdminClient({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"]})
    existing = admin.list_topics(timeout=10).topics
    gone = [t for t in TOPICS if t in existing]
    for future in admin.delete_topics(gone).values() if gone else []:
        future.result(timeout=30)
    mongo: MongoClient[dict[str, Any]] = MongoClient(
        os.environ["MONGODB_URI"], serverSelectionTimeoutMS=5000
    )
    with mongo:
        mongo.drop_database(DATABASE)


@pytest.fixture(scope="module")
def skaffold(
    read_testbed_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Skaffold]:
    env = read_testbed_env
    require_real_node(env)
    run([str(REPO / "testbed" / "build.sh"), "skaffold"], timeout=3600)  # first use: built
    run([str(REPO / "testbed" / "registry.sh"), "up"], timeout=1800)
    registry = run([str(REPO / "testbed" / "registry.sh"), "address"]).stdout.strip()
    hosts = Path(env["TESTBED_STATE"]) / "node" / "containerd" / "certs.d" / registry / "hosts.toml"
    if not hosts.is_file():
        pytest.fail(
            f"the node's containerd has no {hosts}: the bed predates it (testbed/node.sh up)"
        )
    binary = shutil.which("skaffold")
    assert binary, "skaffold is not on PATH (testbed/build.sh skaffold links it)"
    _drop_run_data()  # what an interrupted run left
    namespace = unique("skaffold")
    placement = real_node_placement(env)
    selector = ",".join(f"{k}={v}" for k, v in placement["nodeSelector"].items())
    kubectl("create", "namespace", namespace)
    kubectl(
        "annotate", "namespace", namespace,
        f"scheduler.alpha.kubernetes.io/node-selector={selector}",
        f"scheduler.alpha.kubernetes.io/defaultTolerations={json.dumps(placement['tolerations'])}",
    )  # fmt: skip
    work = tmp_path_factory.mktemp("skaffold")
    # Its global config, not ~/.skaffold/config: no usage data, no update check, no survey.
    (work / "skaffold-config.yaml").write_text(
        "global:\n  collect-metrics: false\n  update-check: false\n  survey:\n    disable-prompt: true\n"
    )
    sk_env = {
        "SKAFFOLD_DEFAULT_REPO": registry,
        "SKAFFOLD_INSECURE_REGISTRY": registry,
        "SKAFFOLD_UPDATE_CHECK": "false",
        "SKAFFOLD_INTERACTIVE": "false",
        "SKAFFOLD_CONFIG": str(work / "skaffold-config.yaml"),
        "FLEAD_NAMESPACE": namespace,
        "HELM_CACHE_HOME": str(work / "helm-cache"),
        "HELM_CONFIG_HOME": str(work / "helm-config"),
        "HELM_DATA_HOME": str(work / "helm-data"),
    }
    sk = Skaffold(binary, sk_env, registry, namespace, {})
    try:
        yield sk
    finally:
        kubectl(
            "delete", "-n", namespace, "-f", str(SAMPLES), "--ignore-not-found",
            "--timeout=120s", check=False, timeout=150,
        )  # fmt: skip
        _skaffold(sk, "delete", check=False)
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        _drop_run_data()


def _skaffold(sk: Skaffold, *args: str, check: bool = True, timeout: float = 1800) -> str:
    proc = run(
        [sk.binary, *args, "-p", PROFILE, "--filename", str(REPO / "skaffold.yaml")],
        env=sk.env,
        check=check,
        timeout=timeout,
    )
    return proc.stdout + proc.stderr


def _digest(registry: str, repo: str, ref: str) -> str:
    """The manifest digest the registry serves for repo:ref (a tag or a digest)."""
    accept = ", ".join(
        [
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ]
    )
    r = httpx.head(f"http://{registry}/v2/{repo}/manifests/{ref}", headers={"Accept": accept})
    r.raise_for_status()
    return r.headers["Docker-Content-Digest"]


def test_skaffold_build_pushes_the_four_images_to_the_bed_registry(
    skaffold: Skaffold, tmp_path: Path
) -> None:
    """`skaffold build` runs the custom builder for each image and pushes it: the registry then
    serves flead-<component> at the tag skaffold reports."""
    out = tmp_path / "build.json"
    _skaffold(skaffold, "build", f"--file-output={out}", timeout=2700)
    builds = json.loads(out.read_text())["builds"]
    assert sorted(b["imageName"] for b in builds) == sorted(f"flead-{c}" for c in COMPONENTS)
    for b in builds:
        repo_tag, _, digest = b["tag"].partition("@")
        repo, _, tag = repo_tag.rpartition(":")
        assert repo == f"{skaffold.registry}/{b['imageName']}", b
        assert digest == _digest(skaffold.registry, b["imageName"], tag), b
        skaffold.builds[b["imageName"]] = b["tag"]
    catalog = httpx.get(f"http://{skaffold.registry}/v2/_catalog").json()["repositories"]
    assert {f"flead-{c}" for c in COMPONENTS} <= set(catalog)


def test_skaffold_run_deploys_the_chart_on_the_real_node_from_the_registry(
    skaffold: Skaffold, read_testbed_env: dict[str, str]
) -> None:
    """`skaffold run` (nothing to rebuild when no source changed: the images are in the
    registry) installs the chart; with the samples applied, every pod, trainers included, is
    Ready on the real node, and each container runs an image skaffold pushed, pulled by
    containerd from the registry by its digest."""
    assert skaffold.builds, "needs the build test first"
    _skaffold(skaffold, "run", timeout=2700)
    ns = skaffold.namespace
    kubectl("apply", "-n", ns, "-f", str(SAMPLES))

    def all_ready() -> list[dict] | None:
        pods = list_pods(ns)
        trainers = [
            p
            for p in pods
            if p["metadata"]["labels"].get("app.kubernetes.io/component") == "trainer"
        ]
        devices = kube_json("get", "federateddevices", "-n", ns)["items"]
        groups = {d.get("status", {}).get("partitionGroup") for d in devices}
        if len(devices) != 54 or None in groups or len(trainers) < len(groups):
            return None
        return pods if pods and all(is_ready(p) for p in pods) else None

    pods = wait_until("every pod Ready, trainers included", all_ready, timeout=600, interval=3)
    components = {p["metadata"]["labels"].get("app.kubernetes.io/component") for p in pods}
    assert {"operator", "trainer", "aggregator", "producer"} <= components
    node = read_testbed_env["TESTBED_NODE_NAME"]
    for p in pods:
        name = p["metadata"]["name"]
        assert p["spec"]["nodeName"] == node, name
        for spec, status in zip(
            sorted(p["spec"]["containers"], key=lambda c: c["name"]),
            sorted(p["status"]["containerStatuses"], key=lambda c: c["name"]),
            strict=True,
        ):
            image = spec["image"]
            repo, _, digest = image.partition("@")
            assert repo.startswith(f"{skaffold.registry}/flead-"), (name, image)
            # The registry serves that digest (skaffold rebuilt and pushed again if a source
            # changed since the build test: then the tag, and maybe the digest, are new).
            assert _digest(skaffold.registry, repo.split("/", 1)[1], digest) == digest, image
            assert status["imageID"] == image, (name, status["imageID"])


def test_skaffold_delete_uninstalls(skaffold: Skaffold) -> None:
    """`skaffold delete` removes the release: the Deployments and Services go."""
    ns = skaffold.namespace
    kubectl(
        "delete", "-n", ns, "-f", str(SAMPLES), "--ignore-not-found", "--timeout=120s", timeout=150
    )  # fmt: skip
    _skaffold(skaffold, "delete", timeout=600)
    helm = shutil.which("helm") or "helm"
    releases = run([helm, "list", "-n", ns, "-q"], env=skaffold.env).stdout.split()
    assert releases == []

    def gone() -> bool:
        left = kube_json("get", "deployments,services", "-n", ns)["items"]
        return not left

    wait_until("the release's Deployments and Services gone", gone, timeout=180, interval=2)
