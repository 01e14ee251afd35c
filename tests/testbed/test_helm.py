"""Smoke tests: helm 3 from the bed renders and installs a chart against its API server."""

import json
import shutil
from pathlib import Path

import pytest

from tests.support.testbed import kubectl, run

pytestmark = pytest.mark.cluster

CHART = Path(__file__).parent / "data" / "tinychart"


@pytest.fixture
def helm_env(tmp_path: Path) -> dict[str, str]:
    """Keep helm's cache, config and data out of the user's home."""
    return {
        "HELM_CACHE_HOME": str(tmp_path / "helm-cache"),
        "HELM_CONFIG_HOME": str(tmp_path / "helm-config"),
        "HELM_DATA_HOME": str(tmp_path / "helm-data"),
    }


def _helm() -> str:
    helm = shutil.which("helm")
    assert helm, "helm is not on PATH (testbed/up.sh puts the cached build first)"
    return helm


def test_helm_template_passes_server_side_dry_run(
    k8s_namespace: str, helm_env: dict[str, str]
) -> None:
    """Proves `helm template` output is accepted by the API server's validation
    (`kubectl apply --dry-run=server`) and that the dry run creates nothing."""
    rendered = run(
        [_helm(), "template", "smoke", str(CHART), "--namespace", k8s_namespace], env=helm_env
    ).stdout
    out = kubectl(
        "apply", "--dry-run=server", "-n", k8s_namespace, "-f", "-", input=rendered
    ).stdout
    assert "configmap/smoke-tinychart created (server dry run)" in out
    assert "deployment.apps/smoke-tinychart created (server dry run)" in out
    missing = kubectl("get", "configmap", "smoke-tinychart", "-n", k8s_namespace, check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


def test_helm_install_creates_objects(k8s_namespace: str, helm_env: dict[str, str]) -> None:
    """Proves `helm install --wait` creates the chart's objects, its Deployment becomes
    available on KWOK nodes, and `helm uninstall` removes the release."""
    helm = _helm()
    run(
        [
            helm,
            "install",
            "smoke",
            str(CHART),
            "--namespace",
            k8s_namespace,
            "--set",
            "message=installed",
            "--wait",
            "--timeout",
            "2m",
        ],
        env=helm_env,
        timeout=180,
    )
    releases = json.loads(
        run([helm, "list", "-n", k8s_namespace, "-o", "json"], env=helm_env).stdout
    )
    assert [(r["name"], r["status"]) for r in releases] == [("smoke", "deployed")]
    cm = json.loads(
        kubectl("get", "configmap", "smoke-tinychart", "-n", k8s_namespace, "-o", "json").stdout
    )
    assert cm["data"]["message"] == "installed"
    deploy = json.loads(
        kubectl("get", "deployment", "smoke-tinychart", "-n", k8s_namespace, "-o", "json").stdout
    )
    assert deploy["status"].get("availableReplicas") == 2
    run(
        [helm, "uninstall", "smoke", "-n", k8s_namespace, "--wait", "--timeout", "2m"],
        env=helm_env,
        timeout=180,
    )
    gone = kubectl("get", "configmap", "smoke-tinychart", "-n", k8s_namespace, check=False)
    assert gone.returncode != 0


def test_helm_carries_a_release_kubernetes_version(
    tmp_path: Path, helm_env: dict[str, str]
) -> None:
    """Proves the bed's helm is built like a release: offline rendering assumes the
    Kubernetes version of the client-go it was built with (not helm's v1.20 fallback), so
    `helm template charts/flead` works without --kube-version (regression: issue 11)."""
    chart = tmp_path / "kube-version"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: kube-version\nversion: 0.1.0\n")
    (chart / "templates" / "v.yaml").write_text("kube: {{ .Capabilities.KubeVersion.Version }}\n")
    out = run([_helm(), "template", str(chart)], env=helm_env).stdout
    major, minor = out.split("kube: v", 1)[1].split(".")[:2]
    assert (int(major), int(minor)) >= (1, 34), out
    flead = Path(__file__).resolve().parents[2] / "charts" / "flead"
    rendered = run([_helm(), "template", "flead", str(flead)], env=helm_env).stdout
    assert "kind: Deployment" in rendered
