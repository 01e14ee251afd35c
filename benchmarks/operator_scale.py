"""Operator scale: N FederatedDevices on the bed -> time until all Ready, API writes, peak RSS.

Per size, three figures: seconds from the first create until every device is Ready=True
(confirmed by a list) beside the time the API server takes just to accept the N creates (the
floor: a device cannot be Ready before it exists); the operator's API writes per device
(``flead_operator_api_requests_total``) beside the minimum (one status write per device plus
a ServiceAccount, a device ConfigMap and a Deployment per trainer); its peak RSS.
Set FLEAD_BENCH_LOG_LEVEL=INFO to keep the operator's log (its path is printed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from benchmarks.figure import Figure, target_met
from benchmarks.render import show
from flead_operator.samples import mote
from flead_operator.testing import REPO, OperatorProcess

SIZES = (1000, 5000)
PARTITIONS, PER_TRAINER = 256, 4
TARGET_READY_SECONDS = {1000: 30.0, 5000: 120.0}
TARGET_WRITES_PER_DEVICE = 1.2
WRITES_PER_TRAINER = 3  # its ServiceAccount, device ConfigMap and Deployment, each applied once
CRD = REPO / "charts/flead/crds/federateddevices.flead.io.yaml"


def _bed_env() -> dict[str, str]:
    env_file = REPO / ".testbed/env"
    if not env_file.is_file():
        raise RuntimeError("test bed is not up (.testbed/env missing): run `make testbed`")
    out = subprocess.run(
        ["bash", "-c", f'set -a; . "{env_file}"; env -0'], capture_output=True, check=True
    ).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def _kubectl(env: dict[str, str], *args: str) -> None:
    subprocess.run(["kubectl", *args], env=env, check=True, capture_output=True, timeout=300)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _ready(api: client.CustomObjectsApi, namespace: str) -> int:
    items = api.list_namespaced_custom_object("flead.io", "v1alpha1", namespace, "federateddevices")
    return sum(
        any(c["type"] == "Ready" and c["status"] == "True" for c in conds)
        for conds in (i.get("status", {}).get("conditions", []) for i in items["items"])
    )


@dataclass(frozen=True)
class ScaleRun:
    """What one size measured."""

    devices: int
    trainers: int
    create_seconds: float
    ready_seconds: float
    writes: int
    peak_rss_mb: float

    def figures(self) -> list[Figure]:
        """Time to all Ready (ratio = ready / creates alone), API writes per device (ratio =
        writes / the minimum), peak RSS; lower is better in all three."""
        bound = TARGET_READY_SECONDS.get(self.devices)
        per_device = self.writes / self.devices
        minimum = (self.devices + WRITES_PER_TRAINER * self.trainers) / self.devices
        fleet = f"{self.devices:,} devices, {self.trainers} trainers"
        return [
            Figure(
                benchmark=f"operator: {fleet}, until all Ready",
                value=self.ready_seconds,
                unit="s",
                baseline="the API server accepting the creates alone",
                baseline_value=self.create_seconds,
                ratio=self.ready_seconds / self.create_seconds,
                target="" if bound is None else f"≤ {bound:g} s",
                met=target_met(self.ready_seconds, at_most=bound),
            ),
            Figure(
                benchmark=f"operator: {fleet}, API writes per device",
                value=per_device,
                unit="writes/device",
                baseline="one status write per device + 3 writes per trainer",
                baseline_value=minimum,
                ratio=per_device / minimum,
                target=f"≤ {TARGET_WRITES_PER_DEVICE:g}",
                met=target_met(per_device, at_most=TARGET_WRITES_PER_DEVICE),
                detail=f"{per_device:.2f} writes/device ({self.writes:,} writes)",
            ),
            Figure(
                benchmark=f"operator: {fleet}, peak RSS",
                value=self.peak_rss_mb,
                unit="MB",
                baseline="",
                baseline_value=None,
                ratio=None,
            ),
        ]


def measure(count: int, env: dict[str, str], timeout: float = 600.0) -> ScaleRun:
    """Create ``count`` devices with the operator running; wait until every one is Ready."""
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    _kubectl(env, "create", "namespace", namespace)
    api_client = config.new_client_from_config(config_file=env["KUBECONFIG"])
    api_client.configuration.connection_pool_maxsize = 16
    api = client.CustomObjectsApi(api_client)
    log = Path(tempfile.mkdtemp()) / "operator.log"
    operator = OperatorProcess(
        env["KUBECONFIG"],
        log,
        [namespace],
        {
            "FLEAD_READINGS_PARTITIONS": str(PARTITIONS),
            "FLEAD_OPERATOR_PARTITIONS_PER_TRAINER": str(PER_TRAINER),
            "FLEAD_OPERATOR_TRAINER_IMAGE": "flead-trainer:bench",
            "FLEAD_LOG_LEVEL": os.environ.get("FLEAD_BENCH_LOG_LEVEL", "WARNING"),
        },
    ).start()
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda i: api.create_namespaced_custom_object(
                        "flead.io", "v1alpha1", namespace, "federateddevices", mote(i)
                    ),
                    range(1, count + 1),
                )
            )
        created = time.perf_counter() - started
        while operator.metric("flead_operator_devices_ready") < count:
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{count} devices not Ready after {timeout}s")
            time.sleep(0.25)
        while (confirmed := _ready(api, namespace)) < count:  # the writes have landed
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{confirmed}/{count} devices Ready after {timeout}s")
            time.sleep(2.0)
        ready_seconds = time.perf_counter() - started
        trainers = int(operator.metric("flead_operator_trainers"))
        requests = int(operator.metric("flead_operator_api_requests_total"))
        rss = _peak_rss_mb(operator.proc.pid) if operator.proc else 0.0
        return ScaleRun(
            devices=count,
            trainers=trainers,
            create_seconds=created,
            ready_seconds=ready_seconds,
            writes=requests,
            peak_rss_mb=rss,
        )
    finally:
        operator.stop()
        if "FLEAD_BENCH_LOG_LEVEL" in os.environ:
            print(f"operator log: {log}")
        api_client.close()
        _kubectl(env, "delete", "namespace", namespace, "--wait=false")


def run(sizes: tuple[int, ...] = SIZES) -> list[Figure]:
    """Three figures per size (`make bench` calls this)."""
    env = {**os.environ, **_bed_env()}
    _kubectl(env, "apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    _kubectl(env, "wait", "--for=condition=Established", "crd/federateddevices.flead.io")
    return [figure for n in sizes for figure in measure(n, env).figures()]


def main() -> None:
    """`python -m benchmarks.operator_scale --sizes 1000`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    show("operator_scale", run(tuple(parser.parse_args().sizes)))


if __name__ == "__main__":
    main()
