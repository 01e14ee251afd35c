"""manifests/ is what `make manifests` renders from the chart, and is safe to commit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from deploy.manifests import main as manifests_main
from deploy.manifests import render

from .support import ROOT, helm_or_skip

pytestmark = pytest.mark.unit

MANIFESTS = ROOT / "manifests"


def test_manifests_are_current() -> None:
    """Regenerating manifests/ from charts/flead changes nothing (fix: make manifests)."""
    helm_or_skip()
    assert manifests_main(["--check"]) == 0


def test_check_detects_a_hand_edit(tmp_path: Path) -> None:
    """--check fails on an edited copy and passes once rewritten."""
    helm_or_skip()
    assert manifests_main(["--out", str(tmp_path)]) == 0
    target = tmp_path / "flead" / "operator.yaml"
    target.write_text(target.read_text().replace("replicas: 1", "replicas: 2"))
    assert manifests_main(["--out", str(tmp_path), "--check"]) == 1


def test_manifests_hold_crd_rbac_operator_aggregator_and_no_secret() -> None:
    """The kustomization lists every file; objects include the operator and aggregator; no Secret."""
    files = render(helm_or_skip())
    kustomization = yaml.safe_load(files["kustomization.yaml"])
    assert sorted(kustomization["resources"]) == sorted(
        k for k in files if k != "kustomization.yaml"
    )
    docs = [
        d
        for name, text in files.items()
        if name != "kustomization.yaml"
        for d in yaml.safe_load_all(text)
        if d
    ]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Deployment", "flead-operator") in kinds
    assert ("Deployment", "flead-aggregator") in kinds
    assert ("Namespace", "flead") in kinds
    assert not [d for d in docs if d["kind"] == "Secret"], "no token may be committed"
    for d in docs:
        labels = d["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/managed-by") in (None, "kubectl")
    chart_crds = list((ROOT / "charts" / "flead" / "crds").glob("*.yaml"))
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert len(crds) == len(chart_crds) >= 1


def test_kustomization_builds_offline() -> None:
    """`kubectl kustomize manifests/` (what `kubectl apply -k` runs first) builds every object."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert docs[0]["kind"] == "Namespace"
    assert {"CustomResourceDefinition", "ClusterRole", "Deployment", "StatefulSet"} <= {
        d["kind"] for d in docs
    }
