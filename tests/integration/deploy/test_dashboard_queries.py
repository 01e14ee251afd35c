"""Every dashboard query against the test bed's real Prometheus: accepted, and returning data while
the local process stack (`make up`) runs and Prometheus scrapes it."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.deploy.support import (
    ROOT,
    dashboard_targets,
    metric_names,
    read_testbed_env,
    substitute,
)

pytestmark = pytest.mark.integration

STACK = ROOT / "scripts" / "stack.sh"
# Series that legitimately do not exist in a short local run, and why.
MAY_BE_ABSENT = {
    "flead_dead_letters_total": "labelled by reason: exists only after the first malformed reading",
    "flead_producer_delivery_errors_total": "exists only after a failed delivery, if labelled",
    "flead_device_anomalies_total": "labelled by device: exists once a device has had an anomaly",
}
OPERATOR_REASON = "the local stack runs no operator (`make operator` against the bed does)"


def query(url: str, expr: str) -> dict[str, Any]:
    """Instant query; returns the decoded JSON even for 4xx answers."""
    full = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(full, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read() or b"{}") | {"http_status": error.code}


@pytest.fixture(scope="module")
def prometheus_url() -> str:
    """The bed's Prometheus, or skip."""
    url = read_testbed_env().get("PROMETHEUS_URL") or os.environ.get("PROMETHEUS_URL")
    if not url:
        pytest.skip("test bed not up (.testbed/env missing): run `make testbed`")
    try:
        urllib.request.urlopen(f"{url}/-/ready", timeout=5).close()
    except OSError as error:
        pytest.skip(f"Prometheus at {url} does not answer: {error}")
    return url


def _stack_flowing(url: str) -> bool:
    """True when trainers consume readings and the aggregator reports a global version."""
    consumed = query(url, "sum(rate(flead_readings_consumed_total[1m])) > 0")
    version = query(url, "max(flead_global_model_version)")
    return bool(consumed.get("data", {}).get("result")) and bool(
        version.get("data", {}).get("result")
    )


@pytest.fixture(scope="module")
def running_stack(prometheus_url: str) -> Iterator[str]:
    """The local process stack, scraped by the bed's Prometheus (started here when not running)."""
    if _stack_flowing(prometheus_url):
        yield prometheus_url
        return
    if not STACK.is_file():
        pytest.skip("`make up` not available (scripts/stack.sh missing): no FLEAD metrics to query")
    env = {**os.environ, **read_testbed_env()}
    started = subprocess.run(
        ["bash", str(STACK), "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        pytest.fail(f"scripts/stack.sh up failed:\n{started.stderr[-2000:]}")
    try:
        deadline = time.monotonic() + 240
        while not _stack_flowing(prometheus_url):
            if time.monotonic() > deadline:
                pytest.fail(
                    "stack up, but after 240 s no readings consumed / no global version in Prometheus"
                )
            time.sleep(5)
        time.sleep(20)  # a few more scrapes, so rates over 1m have several samples
        yield prometheus_url
    finally:
        subprocess.run(
            ["bash", str(STACK), "down"], cwd=ROOT, env=env, capture_output=True, timeout=300
        )


def test_every_query_is_accepted_by_prometheus(prometheus_url: str) -> None:
    """The real Prometheus parses and evaluates every panel query (no 400/422 errors)."""
    for name, title, expr in dashboard_targets():
        answer = query(prometheus_url, substitute(expr))
        assert answer.get("status") == "success", f"{name} / {title}: {answer}"


def test_every_query_returns_data_while_the_stack_runs(running_stack: str) -> None:
    """Each panel returns series once its metrics exist; the only absent ones are explained."""
    names = query(running_stack, "count by (__name__) ({__name__=~'flead_.+'})")
    present = {r["metric"]["__name__"] for r in names["data"]["result"]}
    operator_scraped = bool(query(running_stack, 'up{job="flead-operator"} == 1')["data"]["result"])
    empty, explained = [], []
    for name, title, expr in dashboard_targets():
        needed = metric_names(expr) - {"up"}
        reads_operator = "flead-operator" in expr or any(
            m.startswith("flead_operator_") for m in needed
        )
        if reads_operator and not operator_scraped:
            explained.append(f"{name} / {title}: {OPERATOR_REASON}")
            continue
        missing = {m for m in needed if m not in present}
        if missing and missing <= MAY_BE_ABSENT.keys():
            explained.append(f"{name} / {title}: {', '.join(MAY_BE_ABSENT[m] for m in missing)}")
            continue
        result = query(running_stack, substitute(expr))
        if not result["data"]["result"]:
            empty.append(
                f"{name} / {title}: {expr}  (missing metrics: {sorted(missing) or 'none'})"
            )
    for line in explained:
        warnings.warn(f"no data, expected: {line}", stacklevel=1)
    assert not empty, "panels without data:\n" + "\n".join(empty)
