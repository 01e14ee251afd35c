"""Fixtures of the deployment cluster tests: the test bed's API server, kubectl, helm, monitoring CRDs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.unit.deploy.support import ROOT, helm_or_skip, read_testbed_env


@dataclass(frozen=True)
class Bed:
    """kubectl/helm bound to the test bed's kubeconfig."""

    env: dict[str, str]
    kubectl_bin: str
    helm_bin: str

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a command with the bed's environment, capturing text output."""
        result = subprocess.run(
            list(args),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout[-2000:]}"
            )
        return result

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """kubectl against the bed."""
        return self.run(self.kubectl_bin, *args, stdin=stdin, check=check)

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """helm against the bed."""
        return self.run(self.helm_bin, *args, check=check)

    def get_json(self, *args: str) -> dict:
        """`kubectl get ... -o json` parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)


@pytest.fixture(scope="session")
def bed() -> Bed:
    """The running test bed (skips when .testbed/env is missing or the API server does not answer)."""
    found = read_testbed_env()
    if not found.get("KUBECONFIG"):
        pytest.skip("test bed not up (.testbed/env missing): run `make testbed`")
    env = {**os.environ, **found}
    kubectl = shutil.which("kubectl", path=env.get("PATH"))
    if kubectl is None:
        pytest.skip("no kubectl on the test bed's PATH")
    bed = Bed(env=env, kubectl_bin=kubectl, helm_bin=helm_or_skip())
    nodes = bed.kubectl("get", "nodes", "-o", "name", check=False)
    if nodes.returncode != 0 or not nodes.stdout.strip():
        pytest.skip(f"the test bed's API server has no nodes: {nodes.stderr.strip()[:300]}")
    return bed


@pytest.fixture(scope="session")
def monitoring_crds(bed: Bed) -> None:
    """ServiceMonitor, PodMonitor and PrometheusRule CRDs (prometheus-operator) on the bed."""
    script = ROOT / "testbed" / "install-monitoring-crds.sh"
    if script.is_file():
        bed.run("bash", str(script))
    else:
        folder = bed.env.get("MONITORING_CRDS_DIR", "")
        files = sorted(Path(folder).glob("*.yaml")) if folder else []
        if not files:
            pytest.skip(
                "no monitoring CRDs: testbed/install-monitoring-crds.sh or MONITORING_CRDS_DIR"
            )
        for f in files:
            bed.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(f))
    for crd in ("servicemonitors", "podmonitors", "prometheusrules"):
        bed.kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            f"crd/{crd}.monitoring.coreos.com",
        )


@pytest.fixture
def namespace(bed: Bed, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace, deleted (without waiting) after the test."""
    name = f"flead-deploy-{int(time.time() * 1000) % 10**8}"
    bed.kubectl("create", "namespace", name)
    yield name
    bed.kubectl("delete", "namespace", name, "--wait=false", check=False)
