"""Helpers shared by the deployment tests (unit, cluster and integration)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy.manifests import KUBE_VERSION, find_helm

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "flead"
STACK_CHART = ROOT / "charts" / "flead-stack"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
DASHBOARDS_DIR = CHART / "dashboards"
TESTBED_ENV = ROOT / ".testbed" / "env"

# Template variables of the dashboards and what they become in a standalone query.
TEMPLATE_SUBSTITUTIONS = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$group": ".*",
    "$device": ".*",
}


def helm_or_skip() -> str:
    """Path of a helm binary, or skip the test saying how to get one."""
    env = read_testbed_env()
    if env:
        found = shutil.which("helm", path=env.get("PATH"))
        if found:
            return found
    helm = find_helm()
    if helm is None:
        pytest.skip("no helm binary: run testbed/build.sh helm (or put helm on PATH / set HELM)")
    return helm


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run helm with `args`, capturing text output."""
    return subprocess.run(
        [helm_or_skip(), *args], capture_output=True, text=True, check=check, timeout=300
    )


def helm_template(
    *values_files: Path,
    chart: Path = CHART,
    release: str = "t",
    namespace: str = "flead-test",
    set_values: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """`helm template` of `chart`, parsed into a list of objects (empty documents dropped)."""
    args = [
        "template",
        release,
        str(chart),
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
    ]
    args += extra
    for f in values_files:
        args += ["-f", str(f)]
    for s in set_values:
        args += ["--set", s]
    result = helm(*args, check=False)
    if result.returncode != 0:
        raise AssertionError(f"helm template failed:\n{result.stderr}")
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def by_kind(docs: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    """The objects of one kind."""
    return [d for d in docs if d.get("kind") == kind]


def pod_specs(docs: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(kind/name, pod spec) of every workload and bare Pod."""
    for d in docs:
        name = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield name, d["spec"]["template"]["spec"]
        elif d["kind"] == "Pod":
            yield name, d["spec"]


def read_testbed_env() -> dict[str, str]:
    """Environment after sourcing .testbed/env (written by testbed/up.sh); {} when the bed is down."""
    if not TESTBED_ENV.is_file():
        return {}
    result = subprocess.run(
        ["bash", "-c", f". {shlex.quote(str(TESTBED_ENV))} && env -0"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if result.returncode != 0:
        return {}
    env = dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)
    return env


def dashboard_targets() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) of every panel query in the committed dashboards."""
    out = []
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        model = json.loads(path.read_text())
        for panel in model.get("panels", []):
            for target in panel.get("targets", []):
                out.append((path.name, panel.get("title", ""), target["expr"]))
    return out


def substitute(expr: str) -> str:
    """`expr` with Grafana's template variables replaced by values Prometheus accepts."""
    for name, value in sorted(TEMPLATE_SUBSTITUTIONS.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    return expr


_METRIC = re.compile(r"\b(flead_[a-z0-9_]+|up)\b")


def metric_names(expr: str) -> set[str]:
    """FLEAD metric names (and `up`) an expression reads."""
    return set(_METRIC.findall(expr))
