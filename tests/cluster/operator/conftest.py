"""Fixtures for operator tests on the bed: the CRD, the chart's RBAC, an operator under its SA."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flead_operator.testing import OperatorProcess
from tests.support.testbed import REPO, kubectl, run, unique, wait_until

CRD = REPO / "charts/flead/crds/federateddevices.flead.io.yaml"
SAMPLES = REPO / "manifests/samples"
TRAINER_LABEL = "app.kubernetes.io/managed-by=flead-operator"


@pytest.fixture(scope="session")
def crd(read_testbed_env: dict[str, str]) -> str:
    """The FederatedDevice CRD installed and Established."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/federateddevices.flead.io",
    )
    return "federateddevices.flead.io"


def render_rbac(namespace: str, *values: str) -> str:
    """The chart's operator RBAC, rendered with `helm template --show-only`."""
    helm = shutil.which("helm") or "helm"
    args = [helm, "template", "flead", str(REPO / "charts/flead"), "--namespace", namespace]
    args += ["--kube-version", "1.34.0"]
    args += ["--show-only", "templates/operator-rbac.yaml", *values]
    return run(args).stdout


@pytest.fixture(scope="module")
def operator_namespace(crd: str) -> Iterator[str]:
    """A release namespace holding the operator's ServiceAccount, bound by the chart's RBAC."""
    namespace = unique("flead-op")
    kubectl("create", "namespace", namespace)
    manifest = render_rbac(namespace)
    kubectl("apply", "-f", "-", input=manifest)
    yield namespace
    kubectl("delete", "-f", "-", "--wait=false", input=manifest, check=False)
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def device_namespace(crd: str) -> Iterator[str]:
    """A namespace for FederatedDevices and their trainers (finalizers stripped on the way out)."""
    namespace = unique("flead-dev")
    kubectl("create", "namespace", namespace)
    yield namespace
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def operator_factory(
    operator_namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., OperatorProcess]]:
    """``make(namespaces, **env)``: an operator running as the chart's ServiceAccount."""
    folder = tmp_path_factory.mktemp("operator")
    sa = "flead-operator"
    kubeconfig = folder / "sa.kubeconfig"
    run([str(REPO / "testbed/mint-sa-kubeconfig.sh"), operator_namespace, sa, str(kubeconfig)])
    started: list[OperatorProcess] = []

    def make(
        namespaces: list[str], kubeconfig_path: Path | None = None, **env: str
    ) -> OperatorProcess:
        settings = {
            "FLEAD_OPERATOR_TRAINER_IMAGE": "flead-trainer:test",
            "FLEAD_OPERATOR_DEBOUNCE_SECONDS": "0.5",
            "FLEAD_LOG_FORMAT": "json",
            **env,
        }
        log = folder / f"operator-{len(started)}.log"
        proc = OperatorProcess(kubeconfig_path or kubeconfig, log, namespaces, settings)
        started.append(proc)
        return proc

    make.kubeconfig = kubeconfig  # type: ignore[attr-defined]
    yield make
    for proc in started:
        proc.stop()


def get_json(*args: str) -> Any:
    """``kubectl get ... -o json`` parsed."""
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def trainers(namespace: str) -> dict[str, Any]:
    """Trainer Deployments of a namespace by name."""
    items = get_json("deployments", "-n", namespace, "-l", TRAINER_LABEL)["items"]
    return {d["metadata"]["name"]: d for d in items}


def devices(namespace: str) -> dict[str, Any]:
    """FederatedDevices of a namespace by name."""
    return {d["metadata"]["name"]: d for d in get_json("fd", "-n", namespace)["items"]}


def condition(device: dict[str, Any], kind: str = "Ready") -> dict[str, Any]:
    """One condition of a device (empty when absent)."""
    for cond in device.get("status", {}).get("conditions", []):
        if cond["type"] == kind:
            return dict(cond)
    return {}


def wait_ready(namespace: str, count: int, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until ``count`` devices exist and all are Ready=True; return them."""

    def probe() -> dict[str, Any] | None:
        found = devices(namespace)
        ready = [d for d in found.values() if condition(d).get("status") == "True"]
        return found if len(found) == count and len(ready) == count else None

    result: dict[str, Any] = wait_until(f"{count} Ready devices in {namespace}", probe, timeout)
    return result


def apply_docs(namespace: str, docs: list[dict[str, Any]]) -> None:
    """kubectl apply a list of objects."""
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
    )


def samples_path() -> Path:
    """The folder `kubectl apply -f` takes."""
    return SAMPLES
