"""Metrics through the real path: the chart's ServiceMonitors, PodMonitor and PrometheusRule,
turned into a Prometheus configuration by the real prometheus-operator, scrape the running
release on the bed's real node, and every dashboard query answers.

The module's own release (the ``release`` fixture, conftest.py) is upgraded with the chart's
monitoring objects on. The prometheus-operator (built from its Go module,
PROMETHEUS_OPERATOR_VERSION, by testbed/build.sh) runs as a process on this machine against the
bed's API server (testbed/prometheus-operator.sh) and reconciles a Prometheus object in the
release's namespace. That object has ``replicas: 0``: there is no Prometheus image here (no
container registry), so instead of its StatefulSet a prometheus process on this machine runs the
configuration the operator wrote into the Secret ``prometheus-<name>`` and the rule ConfigMaps
(``testbed/prometheus-operator.sh render`` only points the rule file paths at a local folder;
``apiserverConfig`` makes the operator write Kubernetes service discovery that reaches the bed's
API server from outside the cluster, ``version`` makes it write for that binary's version). The
binary is Prometheus built from its Go module (PROMETHEUS_MODULE_VERSION) with Kubernetes
discovery: the bed's own (Debian's 2.42) was built without it. This machine reaches the node's
pod IPs, as Prometheus in a pod would.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.cluster.e2e.release import (
    CHART,
    RELEASE,
    TRAINER_SELECTOR,
    Release,
    all_pods_up,
    helm,
    kube_json,
)
from tests.support.testbed import REPO, kubectl, run, wait_until
from tests.unit.deploy.support import dashboard_targets, substitute

# The first run builds the operator and Prometheus (~18 min cold on 2 busy cores) in the fixture.
pytestmark = [getattr(pytest.mark, "cluster-e2e"), pytest.mark.timeout(3600)]

PROMOP = str(REPO / "testbed" / "prometheus-operator.sh")
PROMETHEUS = "flead"  # the Prometheus object's name
SERVICE_JOBS = ("flead-aggregator", "flead-operator", "flead-producer")
SCRAPE_INTERVAL = "5s"


@dataclass(frozen=True)
class Monitored:
    release: Release
    url: str  # the bed's prometheus binary running the operator's configuration
    config: dict[str, Any]  # that configuration as the operator generated it
    rules_dir: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prometheus_binary() -> str:
    return run([PROMOP, "prometheus"]).stdout.strip()


def _prometheus_version() -> str:
    out = run([_prometheus_binary(), "--version"]).stdout
    return "v" + out.split()[2]  # "prometheus, version 3.5.0 (branch: ...)"


def _prometheus_object(namespace: str, env: dict[str, str]) -> dict[str, Any]:
    pki = Path(env["TESTBED_STATE"]) / "pki"
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": PROMETHEUS, "namespace": namespace},
        "spec": {
            "replicas": 0,
            "version": _prometheus_version(),
            "scrapeInterval": SCRAPE_INTERVAL,
            "evaluationInterval": SCRAPE_INTERVAL,
            "replicaExternalLabelName": "",
            "prometheusExternalLabelName": "",
            # Every monitor and rule of its own namespace (namespace selectors left out).
            "serviceMonitorSelector": {},
            "podMonitorSelector": {},
            "ruleSelector": {},
            "apiserverConfig": {
                "host": env["KUBE_APISERVER_URL"],
                "tlsConfig": {
                    "caFile": str(pki / "ca.crt"),
                    "certFile": str(pki / "admin.crt"),
                    "keyFile": str(pki / "admin.key"),
                },
            },
        },
    }


def _rendered(namespace: str, out: Path) -> dict[str, Any] | None:
    """The operator's configuration once it holds the four FLEAD scrape jobs and the rules."""
    proc = run([PROMOP, "render", namespace, PROMETHEUS, str(out)], check=False, timeout=60)
    if proc.returncode != 0:
        return None
    config = yaml.safe_load((out / "prometheus.yaml").read_text())
    jobs = {c["job_name"] for c in config.get("scrape_configs") or []}
    wanted = {f"serviceMonitor/{namespace}/{RELEASE}-{j}/0" for j in SERVICE_JOBS}
    wanted.add(f"podMonitor/{namespace}/{RELEASE}-flead-trainer/0")
    if not wanted <= jobs or not list((out / "rules").glob("*/*.yaml")):
        return None
    return dict(config)


@pytest.fixture(scope="module")
def monitored(
    release: Release, read_testbed_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Monitored]:
    env = read_testbed_env
    ns = release.namespace
    wait_until("every pod of the release Ready", lambda: all_pods_up(ns), timeout=600, interval=3)
    started_operator = run([PROMOP, "status"], check=False).returncode != 0
    run([PROMOP, "up"], timeout=3600)  # builds it and prometheus on first use
    helm(
        release, "upgrade", RELEASE, str(CHART), "-n", ns, "--reuse-values",
        "--set", "monitoring.serviceMonitor.enabled=true",
        "--set", "monitoring.prometheusRule.enabled=true",
        "--set", f"monitoring.serviceMonitor.interval={SCRAPE_INTERVAL}",
        "--set", "monitoring.serviceMonitor.scrapeTimeout=4s",
        "--wait", "--timeout", "5m",
    )  # fmt: skip
    work = tmp_path_factory.mktemp("metrics")
    kubectl("apply", "-f", "-", input=json.dumps(_prometheus_object(ns, env)))
    out = work / "rendered"
    config = wait_until(
        "the operator's configuration with the FLEAD monitors and rules",
        lambda: _rendered(ns, out),
        timeout=120,
        interval=2,
    )
    port = _free_port()
    log = (work / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            _prometheus_binary(), f"--config.file={out / 'prometheus.yaml'}",
            f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, f"prometheus exited: {(work / 'prometheus.log').read_text()}"
        try:
            return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until("prometheus ready on the operator's configuration", ready, timeout=60)
        yield Monitored(release, url, config, out / "rules")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        kubectl("delete", "prometheus", PROMETHEUS, "-n", ns, "--ignore-not-found", check=False)
        if started_operator:
            run([PROMOP, "down"], check=False)


def _api(m: Monitored, path: str, **params: str) -> Any:
    body = httpx.get(f"{m.url}/api/v1/{path}", params=params, timeout=10).json()
    assert body["status"] == "success", body
    return body["data"]


def _trainer_pods(ns: str) -> dict[str, dict]:
    pods = kube_json("get", "pods", "-n", ns, "-l", TRAINER_SELECTOR)["items"]
    return {p["status"]["podIP"]: p for p in pods if p["status"].get("podIP")}


def test_operator_config_holds_every_flead_monitor_and_rule(monitored: Monitored) -> None:
    """The operator turned each ServiceMonitor and the PodMonitor into a scrape job (Kubernetes
    discovery against the bed's API server, the chart's relabelling to job=flead-<component>)
    and the PrometheusRule into a rule file with every group of the chart's object."""
    ns = monitored.release.namespace
    jobs = {c["job_name"]: c for c in monitored.config["scrape_configs"]}
    for name, job in jobs.items():
        sd = job["kubernetes_sd_configs"][0]
        assert sd["api_server"].startswith("https://127.0.0.1:"), name
        assert sd["namespaces"]["names"] == [ns], name
        assert job["scrape_interval"] == SCRAPE_INTERVAL, name
    rule = kube_json("get", "prometheusrules", "-n", ns)["items"]
    assert len(rule) == 1
    wanted = {g["name"] for g in rule[0]["spec"]["groups"]}
    rendered = set()
    for path in monitored.rules_dir.glob("*/*.yaml"):
        rendered |= {g["name"] for g in yaml.safe_load(path.read_text())["groups"]}
    assert wanted
    assert rendered == wanted


def _targets(m: Monitored) -> list[dict]:
    return list(_api(m, "targets", state="active")["activeTargets"])


def test_every_flead_target_is_up(monitored: Monitored) -> None:
    """One up target per Service (aggregator, operator, producer) and one per trainer pod, each
    trainer labelled with its pod's partition group; nothing else is scraped."""
    ns = monitored.release.namespace
    trainers = _trainer_pods(ns)
    assert trainers

    def all_up() -> list[dict] | None:
        targets = _targets(monitored)
        by_job: dict[str, list[dict]] = {}
        for t in targets:
            by_job.setdefault(t["labels"]["job"], []).append(t)
        counts = {job: len(ts) for job, ts in by_job.items()}
        if counts != {**dict.fromkeys(SERVICE_JOBS, 1), "flead-trainer": len(trainers)}:
            return None
        return targets if all(t["health"] == "up" for t in targets) else None

    targets = wait_until("every FLEAD target up", all_up, timeout=120, interval=2)
    for t in targets:
        assert t["labels"]["namespace"] == ns
        if t["labels"]["job"] == "flead-trainer":
            pod = trainers[t["labels"]["instance"].rsplit(":", 1)[0]]
            assert t["labels"]["group"] == pod["metadata"]["labels"]["flead.io/partition-group"]


def test_prometheus_rule_groups_evaluate(monitored: Monitored) -> None:
    """Prometheus loaded every rule of the PrometheusRule and evaluates them without error."""

    def evaluated() -> list[dict] | None:
        groups = _api(monitored, "rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        done = rules and all(r.get("lastEvaluation", "").startswith("2") for r in rules)
        return rules if done and all(r["health"] == "ok" for r in rules) else None

    rules = wait_until("every rule evaluated", evaluated, timeout=60, interval=2)
    crd = kube_json("get", "prometheusrules", "-n", monitored.release.namespace)["items"][0]
    names = {r.get("alert") or r.get("record") for g in crd["spec"]["groups"] for r in g["rules"]}
    assert {r["name"] for r in rules} == names


def _dead_letter(bootstrap: str, topic: str) -> None:
    """One record no trainer can decode: its dead-letter counter then has a series."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap})
    p.produce(topic, value=b"not a reading", key=b"e2e-metrics", partition=0)
    assert p.flush(30) == 0


def test_every_dashboard_query_returns_data(monitored: Monitored) -> None:
    """Each query of the three dashboards (Grafana variables as the dashboards' tests substitute
    them: all groups and devices, a 1m rate window) returns at least one series from what the
    operator's configuration scraped. A malformed reading makes the dead-letter series exist."""
    rel = monitored.release
    _dead_letter(rel.bootstrap, rel.topics["readings"])
    queries = sorted({substitute(expr) for _, _, expr in dashboard_targets()})
    assert len(queries) > 30

    empty: list[str] = []

    def answered() -> bool:
        empty.clear()
        for q in queries:
            if not _api(monitored, "query", query=q)["result"]:
                empty.append(q)
        return not empty

    deadline = time.monotonic() + 240
    while not answered() and time.monotonic() < deadline:
        time.sleep(5)
    assert not empty, f"{len(empty)} of {len(queries)} dashboard queries return no data: {empty}"
