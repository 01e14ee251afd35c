"""Operator scale: N FederatedDevices on the bed -> time until all Ready, API requests, peak RSS.

Columns: ``ready_s`` seconds from the first create until every device is Ready=True (confirmed
by a list); ``requests`` the operator's API writes (``flead_operator_api_requests_total``);
``rss_mb`` its peak RSS. Baselines from the same run: ``base_create_s``, the time the API server
takes just to accept the N creates (the floor: a device cannot be Ready before it exists), and
``base_writes``, the minimum writes (one status write per device plus one apply per trainer).
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
from pathlib import Path
from typing import Any

from kubernetes import client, config

from flead_operator.samples import mote
from flead_operator.testing import REPO, OperatorProcess

SIZES = (1000, 5000)
PARTITIONS, PER_TRAINER = 256, 4
TARGET_SECONDS_1000 = 60.0
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


def measure(count: int, env: dict[str, str], timeout: float = 600.0) -> dict[str, Any]:
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
        return {
            "devices": count,
            "trainers": trainers,
            "base_create_s": round(created, 1),
            "ready_s": round(ready_seconds, 1),
            "target_s": TARGET_SECONDS_1000 if count == 1000 else None,
            "requests": requests,
            "base_writes": count + trainers,
            "req_per_dev": round(requests / count, 2),
            "rss_mb": round(rss, 1),
        }
    finally:
        operator.stop()
        if "FLEAD_BENCH_LOG_LEVEL" in os.environ:
            print(f"operator log: {log}")
        api_client.close()
        _kubectl(env, "delete", "namespace", namespace, "--wait=false")


def run(sizes: tuple[int, ...] = SIZES) -> list[dict[str, Any]]:
    """One row per size (`make bench` calls this)."""
    env = {**os.environ, **_bed_env()}
    _kubectl(env, "apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    _kubectl(env, "wait", "--for=condition=Established", "crd/federateddevices.flead.io")
    return [measure(n, env) for n in sizes]


def main() -> None:
    """`python -m benchmarks.operator_scale --sizes 1000`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    for row in run(tuple(parser.parse_args().sizes)):
        print(row)


if __name__ == "__main__":
    main()
