"""A FLEAD release on the bed's real node: what the ``release`` fixture (conftest.py) installs
and the helpers the chart end-to-end modules share to read what its pods did.

Every module of tests/cluster/e2e that asks for ``release`` gets its own release (module
scope): its own namespace, topics and database.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from flead_trainer.batch import read_results
from tests.support.testbed import REPO, kubectl, run, unique, wait_until

CHART = REPO / "charts" / "flead"
SAMPLES = REPO / "manifests" / "samples" / "intel-lab-motes.yaml"
COMPONENTS = ("operator", "trainer", "aggregator", "producer")
RELEASE = "e2e"
TRAINER_SELECTOR = "app.kubernetes.io/component=trainer,app.kubernetes.io/part-of=flead"
# The tag scripts/images.sh builds and loads (its own IMAGE_TAG variable, default dev).
IMAGE_TAG = os.environ.get("IMAGE_TAG", "dev")
PRODUCER_RATE = 400  # readings per second


@dataclass(frozen=True)
class Release:
    """What the fixture installed."""

    namespace: str
    helm_env: dict[str, str]
    topics: dict[str, str]
    database: str
    bootstrap: str


def helm(release: Release, *args: str, timeout: float = 600) -> str:
    helm = shutil.which("helm")
    assert helm, "helm is not on PATH (testbed/up.sh puts the cached build first)"
    return run([helm, *args], env=release.helm_env, timeout=timeout).stdout


def kube_json(*args: str) -> Any:
    return json.loads(kubectl(*args, "-o", "json").stdout)


def chart_values(
    namespace: str, env: dict[str, str], topics: dict[str, str], database: str
) -> dict:
    """The release's values: local images never pulled, the bed's services at the node IP."""
    topic_env = {
        "FLEAD_LABELS_TOPIC": topics["labels"],
        "FLEAD_ANOMALIES_TOPIC": topics["anomalies"],
        "FLEAD_DEAD_LETTER_TOPIC": topics["dead_letter"],
    }
    return {
        "image": {"tag": IMAGE_TAG, "pullPolicy": "Never"},
        "config": {"readingsTopic": topics["readings"], "mongodbDatabase": database},
        "operator": {"watchNamespaces": [namespace]},
        "trainer": {"extraEnv": topic_env},
        "producer": {
            "enabled": True,
            "env": {
                "FLEAD_PRODUCER_SOURCE": "synthetic",
                "FLEAD_PRODUCER_LOOP": "true",
                # A steady stream the three trainers keep up with (unlimited, the backlog grows).
                "FLEAD_PRODUCER_RATE": str(PRODUCER_RATE),
                **topic_env,
            },
        },
        "kafka": {"enabled": False},
        "externalKafka": {"bootstrapServers": env["TESTBED_NODE_KAFKA_BOOTSTRAP_SERVERS"]},
        "mongodb": {"enabled": False},
        "externalMongodb": {"uri": f"{env['TESTBED_NODE_MONGODB_URI']}{database}"},
    }


def drop_run_data(rel: Release) -> None:
    from confluent_kafka.admin import AdminClient
    from pymongo import MongoClient

    AdminClient({"bootstrap.servers": rel.bootstrap}).delete_topics(list(rel.topics.values()))
    mongo: MongoClient[dict[str, Any]] = MongoClient(
        os.environ["MONGODB_URI"], serverSelectionTimeoutMS=5000
    )
    with mongo:
        mongo.drop_database(rel.database)


def list_devices(ns: str) -> list[dict]:
    return list(kube_json("get", "federateddevices", "-n", ns)["items"])


def trainer_deployments(ns: str) -> list[dict]:
    return kube_json("get", "deployments", "-n", ns, "-l", TRAINER_SELECTOR)["items"]


def list_pods(ns: str) -> list[dict]:
    return [
        p
        for p in kube_json("get", "pods", "-n", ns)["items"]
        if p["status"].get("phase") != "Succeeded"
    ]


def is_ready(pod: dict) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", [])
    )


def restart_counts(pods: list[dict]) -> dict[str, int]:
    return {
        p["metadata"]["name"]: sum(
            c.get("restartCount", 0) for c in p["status"].get("containerStatuses", [])
        )
        for p in pods
    }


def partition_groups(ns: str) -> dict[str, str]:
    """Partition group -> trainer, from the devices' status once every device has one."""
    devices = list_devices(ns)
    if len(devices) != 54 or any(not d.get("status", {}).get("trainer") for d in devices):
        return {}
    return {d["status"]["partitionGroup"]: d["status"]["trainer"] for d in devices}


def all_pods_up(ns: str) -> list[dict] | None:
    """Every pod of the release (trainers included) Ready, once the operator made them all."""
    groups = partition_groups(ns)
    deployments = trainer_deployments(ns)
    if not groups or len(deployments) < len(groups):
        return None
    pods = list_pods(ns)
    trainers = [
        p
        for p in pods
        if p["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "trainer"
    ]
    if len(trainers) < len(groups) or not all(is_ready(p) for p in pods):
        return None
    return pods


def metric(text: str, name: str) -> float:
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", re.MULTILINE)
    return sum(float(m.group(2)) for m in pattern.finditer(text))


def trainer_pod_ips(ns: str) -> list[str]:
    pods = kube_json("get", "pods", "-n", ns, "-l", TRAINER_SELECTOR)["items"]
    return [p["status"]["podIP"] for p in pods if p["status"].get("podIP")]


def trainer_metrics(ip: str) -> str | None:
    """A trainer pod's own /metrics page (None while it does not answer)."""
    try:
        return httpx.get(f"http://{ip}:9101/metrics", timeout=5).text
    except httpx.HTTPError:
        return None


AGGREGATOR = "app.kubernetes.io/component=aggregator"


def global_version(ns: str) -> int | None:
    """The global version the aggregator's Ready pod reports (None while there is none)."""
    pods = [p for p in kube_json("get", "pods", "-n", ns, "-l", AGGREGATOR)["items"] if is_ready(p)]
    if len(pods) != 1 or pods[0]["metadata"].get("deletionTimestamp"):
        return None
    url = f"http://{pods[0]['status']['podIP']}:8000/api/status"
    try:
        return int(httpx.get(url, timeout=5).json()["global_version"])
    except (httpx.HTTPError, KeyError, ValueError):
        return None


def aggregator_metrics(ns: str) -> str:
    pods = [p for p in kube_json("get", "pods", "-n", ns, "-l", AGGREGATOR)["items"] if is_ready(p)]
    return httpx.get(f"http://{pods[0]['status']['podIP']}:8000/metrics", timeout=5).text


def replaced(ns: str, selector: str, old: str) -> str | None:
    """The name of the one Ready pod matching `selector` once it is not `old`."""
    pods = kube_json("get", "pods", "-n", ns, "-l", selector)["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    if len(live) == 1 and live[0]["metadata"]["name"] != old and is_ready(live[0]):
        return str(live[0]["metadata"]["name"])
    return None


def watermarks(bootstrap: str, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("e2e-watermarks")})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    finally:
        c.close()


def result_counts(rel: Release) -> Counter[tuple[int, int]]:
    """How many durable results each (partition, offset) of the run's readings has."""
    from pymongo import MongoClient

    mongo: MongoClient[dict[str, Any]] = MongoClient(
        os.environ["MONGODB_URI"], serverSelectionTimeoutMS=5000
    )
    counts: Counter[tuple[int, int]] = Counter()
    with mongo:
        for doc in mongo[rel.database]["results"].find({"topic": rel.topics["readings"]}):
            r = read_results(doc)
            counts.update((r.partition, o) for o in r.offsets.tolist())
    return counts


def wait_for_results(
    rel: Release, expected: set[tuple[int, int]], timeout: float = 600
) -> Counter[tuple[int, int]]:
    """The result counts once every reading in `expected` has a durable result; on timeout the
    failure names the partitions and offsets still missing and shows the trainer pods' restart
    counts and log tails (the namespace and its logs are gone after the teardown)."""
    deadline = time.monotonic() + timeout
    counts: Counter[tuple[int, int]] = Counter()
    while time.monotonic() < deadline:
        counts = result_counts(rel)
        if counts.keys() >= expected:
            return counts
        time.sleep(2)
    missing: dict[int, list[int]] = {}
    for p, o in sorted(expected - counts.keys()):
        missing.setdefault(p, []).append(o)
    lines = [
        f"timed out after {timeout:.0f}s waiting for a durable result for each of the "
        f"{len(expected)} readings; missing by partition (count, first, last):"
    ]
    lines += [f"  {p}: {len(offs)} {offs[0]}..{offs[-1]}" for p, offs in missing.items()]
    pods = kube_json("get", "pods", "-n", rel.namespace, "-l", TRAINER_SELECTOR)["items"]
    lines.append(f"trainer restarts: {restart_counts(pods)}")
    for pod in pods:
        name = pod["metadata"]["name"]
        tail = kubectl("logs", name, "-n", rel.namespace, "--tail=30", check=False).stdout
        lines += [f"--- {name} (last 30 log lines)", tail]
    pytest.fail("\n".join(lines))


def stop_producer(ns: str) -> None:
    """Scale the release's producer to 0 and wait until its pod is gone (no reading follows)."""
    kubectl("scale", "deployment", f"{RELEASE}-flead-producer", "-n", ns, "--replicas=0")
    producer = "app.kubernetes.io/component=producer"
    wait_until(
        "the producer pod gone",
        lambda: not kube_json("get", "pods", "-n", ns, "-l", producer)["items"],
        timeout=120,
    )
