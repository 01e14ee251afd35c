"""The ``release`` fixture: one FLEAD release on the bed's real node per module.

The four images are built (scripts/images.sh, cached) and imported into the node's containerd,
``helm install charts/flead`` runs with those images and the bed's Kafka and MongoDB-wire
server as external services (at the node IP), and the 54 sample devices are applied. The
namespace carries default scheduling annotations (PodNodeSelector / PodTolerationRestriction,
enabled in the bed's apiserver) so every pod of the release, the operator's trainers included,
lands on the real node and none on a KWOK node. Topics and the database are unique to the run;
the fixture's teardown uninstalls and drops them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from tests.cluster.e2e.release import (
    CHART,
    COMPONENTS,
    RELEASE,
    SAMPLES,
    Release,
    chart_values,
    drop_run_data,
    helm,
)
from tests.support.testbed import (
    REPO,
    kubectl,
    real_node_placement,
    require_real_node,
    run,
    unique,
)


@pytest.fixture(scope="module")
def release(
    read_testbed_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Release]:
    """Images built and loaded, the chart installed on the real node, the samples applied."""
    env = read_testbed_env
    require_real_node(env)
    images = str(REPO / "scripts" / "images.sh")
    run([images, "build", *COMPONENTS], timeout=2700)
    run([images, "load", *COMPONENTS], timeout=900)

    run_id = unique("e2e")
    namespace = run_id
    placement = real_node_placement(env)
    selector = ",".join(f"{k}={v}" for k, v in placement["nodeSelector"].items())
    kubectl("create", "namespace", namespace)
    kubectl(
        "annotate",
        "namespace",
        namespace,
        f"scheduler.alpha.kubernetes.io/node-selector={selector}",
        f"scheduler.alpha.kubernetes.io/defaultTolerations={json.dumps(placement['tolerations'])}",
    )
    suffix = run_id.replace("-", "_")
    topics = {
        "readings": f"flead.readings.{suffix}",
        "labels": f"flead.labels.{suffix}",
        "anomalies": f"flead.anomalies.{suffix}",
        "dead_letter": f"flead.dead-letter.{suffix}",
    }
    database = f"flead_{suffix}"
    from flead.settings import KafkaSettings
    from flead_producer.topics import ensure_topics, topic_plan

    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    ensure_topics(
        bootstrap,
        topic_plan(
            KafkaSettings(
                kafka_bootstrap_servers=bootstrap,
                readings_topic=topics["readings"],
                labels_topic=topics["labels"],
                anomalies_topic=topics["anomalies"],
                dead_letter_topic=topics["dead_letter"],
            )
        ),
    )
    work = tmp_path_factory.mktemp("e2e")
    helm_env = {
        "HELM_CACHE_HOME": str(work / "helm-cache"),
        "HELM_CONFIG_HOME": str(work / "helm-config"),
        "HELM_DATA_HOME": str(work / "helm-data"),
    }
    rel = Release(namespace, helm_env, topics, database, bootstrap)
    values = work / "values.json"
    values.write_text(json.dumps(chart_values(namespace, env, topics, database)))
    try:
        helm(
            rel, "install", RELEASE, str(CHART), "-n", namespace, "-f", str(values),
            "--wait", "--timeout", "5m",
        )  # fmt: skip
        kubectl("apply", "-n", namespace, "-f", str(SAMPLES))
        yield rel
    finally:
        # Devices first, while the operator still runs to release them (kopf finalizers).
        kubectl(
            "delete", "-n", namespace, "-f", str(SAMPLES), "--ignore-not-found",
            "--timeout=120s", check=False, timeout=150,
        )  # fmt: skip
        helm_bin = shutil.which("helm") or "helm"
        run(
            [helm_bin, "uninstall", RELEASE, "-n", namespace, "--wait"],
            env=helm_env,
            check=False,
            timeout=300,
        )
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        drop_run_data(rel)
