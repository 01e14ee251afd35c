"""Pytest fixtures for the test bed (testbed/up.sh): Kafka, FerretDB, Kubernetes+KWOK, Prometheus.

Tests marked ``integration`` or ``cluster`` get the bed automatically: the first such test
uses a running bed (``.testbed/env`` present and ``testbed/status.sh`` healthy) or brings
one up with ``testbed/up.sh``, and the bed's variables (``KAFKA_BOOTSTRAP_SERVERS``,
``MONGODB_URI``, ``KUBECONFIG``, ``PROMETHEUS_URL``, ``PATH`` with kubectl/helm first, ...)
are exported into ``os.environ`` for the session. ``pytest -m unit`` never touches it.
Set ``FLEAD_TESTBED_AUTO_UP=0`` to fail instead of bringing the bed up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTBED = REPO / "testbed"
STATE = Path(os.environ.get("TESTBED_STATE", REPO / ".testbed"))
BED_MARKERS = ("integration", "cluster", "cluster-e2e")


def _read_env_file(path: Path) -> dict[str, str]:
    """Exported variables of ``path`` as bash sees them after sourcing it."""
    out = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; env -0', "read-env", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    keep = {
        line.split("=", 1)[0].removeprefix("export ").strip()
        for line in path.read_text().splitlines()
        if line.startswith("export ")
    }
    return {k: v for k, v in env.items() if k in keep}


def _bed_healthy() -> bool:
    if not (STATE / "env").is_file():
        return False
    status = subprocess.run(
        [str(TESTBED / "status.sh")], capture_output=True, timeout=60, check=False
    )
    return status.returncode == 0


def _fault_age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:  # the fault just ended
        return float("inf")


def _wait_for_faults(timeout: float = 600.0, stale: float = 900.0) -> None:
    """A component another session took down on purpose (testbed/fault.sh leaves a marker in
    .testbed/faults/) comes back by itself: wait for that rather than run up.sh beside it."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if not any(_fault_age(f) < stale for f in (STATE / "faults").glob("*")):
            return
        time.sleep(1.0)


def ensure_testbed() -> dict[str, str]:
    """Variables of a healthy bed, bringing it up first when needed (after waiting for a
    component another session took down with testbed/fault.sh to come back)."""
    _wait_for_faults()
    if not _bed_healthy():
        if os.environ.get("FLEAD_TESTBED_AUTO_UP", "1") == "0":
            pytest.fail("test bed is not up and FLEAD_TESTBED_AUTO_UP=0: run `make testbed`")
        # A first build takes half an hour: not inside a test's timeout.
        built = subprocess.run(
            [str(TESTBED / "build.sh"), "--check"], capture_output=True, text=True, check=False
        )
        if built.returncode != 0:
            pytest.fail(f"test bed {built.stdout.strip()}: run `make testbed` once (builds it)")
        # Output goes straight to the terminal/CI log: builds can take long.
        proc = subprocess.run([str(TESTBED / "up.sh")], check=False, timeout=5400)
        if proc.returncode != 0:
            pytest.fail(f"testbed/up.sh failed with exit status {proc.returncode} (see its output)")
    return _read_env_file(STATE / "env")


@pytest.fixture(scope="session")
def read_testbed_env() -> Iterator[dict[str, str]]:
    """The bed's variables; also exported into os.environ for the whole session."""
    env = ensure_testbed()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield env


@pytest.fixture(autouse=True)
def _testbed_for_marked_tests(request: pytest.FixtureRequest) -> None:
    """Give every ``integration`` / ``cluster`` test the bed without asking for it."""
    if any(request.node.get_closest_marker(m) for m in BED_MARKERS):
        request.getfixturevalue("read_testbed_env")


def unique(prefix: str) -> str:
    """A name no other test (or earlier run on the same bed) uses: DNS-1123 safe."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(
    what: str, probe: Callable[[], Any], timeout: float = 60.0, interval: float = 0.5
) -> Any:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last value: {last!r})")


def run(
    args: list[str],
    *,
    input: str | None = None,
    check: bool = True,
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on an unexpected failure, fail the test with its stderr."""
    proc = subprocess.run(
        args,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"command failed ({proc.returncode}): {' '.join(args)}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def kubectl(
    *args: str, kubeconfig: str | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """``kubectl`` from the bed's PATH against the admin kubeconfig (or ``kubeconfig``)."""
    cfg = kubeconfig or os.environ["KUBECONFIG"]
    return run([shutil.which("kubectl") or "kubectl", "--kubeconfig", cfg, *args], **kw)


@pytest.fixture
def k8s_namespace(read_testbed_env: dict[str, str]) -> Iterator[str]:
    """A fresh namespace, deleted (without waiting) after the test."""
    name = unique("t")
    kubectl("create", "namespace", name)
    wait_until(
        f"ServiceAccount {name}/default",
        lambda: kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0,
    )
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def mint_sa_kubeconfig(
    read_testbed_env: dict[str, str], tmp_path: Path
) -> Callable[[str, str], Path]:
    """``mint(namespace, service_account)`` -> path of a kubeconfig that acts as that SA."""

    def mint(namespace: str, service_account: str) -> Path:
        out = tmp_path / f"{namespace}-{service_account}.kubeconfig"
        run([str(TESTBED / "mint-sa-kubeconfig.sh"), namespace, service_account, str(out)])
        return out

    return mint


def write_prometheus_target(
    targets_dir: Path, address: str, labels: dict[str, str] | None = None
) -> Path:
    """Register ``address`` (host:port serving /metrics) with the bed's Prometheus.

    Writes a file_sd JSON file atomically (a temporary name the discovery glob ignores,
    then a rename) into ``targets_dir``; Prometheus picks it up within a few seconds.
    Delete the file to unregister.
    """
    path = targets_dir / f"{unique('target')}.json"
    tmp = targets_dir / f".{path.name}.tmp"
    tmp.write_text(json.dumps([{"targets": [address], "labels": labels or {}}]))
    tmp.replace(path)
    return path


@pytest.fixture
def register_prometheus_target(read_testbed_env: dict[str, str]) -> Iterator[Callable[..., Path]]:
    """``register(address, labels)``: a target in ``$PROMETHEUS_TARGETS_DIR`` until test end."""
    paths: list[Path] = []
    targets_dir = Path(read_testbed_env["PROMETHEUS_TARGETS_DIR"])

    def register(address: str, labels: dict[str, str] | None = None) -> Path:
        paths.append(write_prometheus_target(targets_dir, address, labels))
        return paths[-1]

    yield register
    for p in paths:
        p.unlink(missing_ok=True)


def require_real_node(env: dict[str, str]) -> None:
    """Skip when the bed was deliberately started without its real node (``TESTBED_NODE=0``);
    fail when it should have one but has none."""
    if "TESTBED_NODE_NAME" in env:
        return
    if os.environ.get("TESTBED_NODE") == "0":
        pytest.skip("TESTBED_NODE=0: the test bed runs without its real node")
    pytest.fail(
        "the test bed has no real node (.testbed/env lacks TESTBED_NODE_*): restart it with testbed/up.sh"
    )


def real_node_placement(env: dict[str, str] | None = None) -> dict[str, Any]:
    """Pod spec fields that put a pod onto the bed's real node: its nodeSelector and the
    toleration of its NoSchedule taint (``TESTBED_NODE_LABEL`` / ``TESTBED_NODE_TAINT``)."""
    env = env or dict(os.environ)
    label_key, label_value = env["TESTBED_NODE_LABEL"].split("=", 1)
    taint_key, rest = env["TESTBED_NODE_TAINT"].split("=", 1)
    taint_value, effect = rest.split(":", 1)
    return {
        "nodeSelector": {label_key: label_value},
        "tolerations": [
            {"key": taint_key, "operator": "Equal", "value": taint_value, "effect": effect}
        ],
    }


def real_node_pod(namespace: str, name: str, args: list[str], timeout: float = 90.0) -> str:
    """Run the bed's probe image (``TESTBED_PROBE_IMAGE``) with ``args`` in a pod on the
    real node until it exits; return its log (read through the apiserver and kubelet).
    The pod is deleted afterwards."""
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            **real_node_placement(),
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [
                {"name": "probe", "image": os.environ["TESTBED_PROBE_IMAGE"], "args": args}
            ],
        },
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))
    try:
        wait_until(
            f"pod {namespace}/{name} to finish",
            lambda: kubectl(
                "get", "pod", name, "-n", namespace, "-o", "jsonpath={.status.phase}"
            ).stdout
            in ("Succeeded", "Failed"),
            timeout=timeout,
        )
        return kubectl("logs", name, "-n", namespace).stdout
    finally:
        kubectl("delete", "pod", name, "-n", namespace, "--wait=false", check=False)


# What testbed/fault.sh hurts: bed components, then the real node's (containerd, kubelet).
FAULT_COMPONENTS = ("ferretdb", "kafka", "prometheus", "apiserver", "containerd", "kubelet")


def fault(action: str, component: str, timeout: float = 180.0) -> None:
    """``testbed/fault.sh ACTION COMPONENT`` (kill, stop, cont, restart); fails the test with
    its output (the component's log tail) when it fails. restart/cont return once healthy."""
    run([str(TESTBED / "fault.sh"), action, component], timeout=timeout)


@contextmanager
def component_down(name: str, seconds: float = 0.0, how: str = "kill") -> Iterator[None]:
    """``name`` is down inside the block: killed (SIGKILL) or, with ``how="stop"``, frozen
    (SIGSTOP). On leaving, once at least ``seconds`` passed since it went down, it is restarted
    on the same data (or continued) and healthy again — also when the block raised."""
    if name not in FAULT_COMPONENTS or how not in ("kill", "stop"):
        raise ValueError(f"cannot take {name!r} down by {how!r}")
    fault(how, name)
    down_at = time.monotonic()
    try:
        yield
    finally:
        time.sleep(max(0.0, seconds - (time.monotonic() - down_at)))
        fault("restart" if how == "kill" else "cont", name)


@pytest.fixture
def bed_component_down(
    read_testbed_env: dict[str, str],
) -> Iterator[Callable[..., AbstractContextManager[None]]]:
    """``with bed_component_down("ferretdb", 15):`` — `component_down` on the session's bed;
    at teardown every component it took down is healthy again (restarted if need be)."""
    used: set[str] = set()

    def down(name: str, seconds: float = 0.0, how: str = "kill") -> AbstractContextManager[None]:
        used.add(name)
        return component_down(name, seconds, how)

    yield down
    for name in sorted(used):
        if subprocess.run(
            [
                "bash",
                "-c",
                f'. "{TESTBED}/lib/common.sh"; . "{TESTBED}/lib/components.sh"; '
                f'. "{TESTBED}/lib/node.sh"; healthy_{name}',
            ],
            capture_output=True,
            timeout=30,
            check=False,
        ).returncode:
            fault("restart", name)
