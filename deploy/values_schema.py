"""values.schema.json of charts/flead, as code: ``python -m deploy.values_schema [--check]``.

One place describes every value's type and bounds; the JSON Schema (draft-07, what Helm checks on
lint, template, install and upgrade) is generated from it. ``--check`` exits 1 when the committed
file differs. tests/unit/deploy/test_chart_values.py checks that it covers every value.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_PATH", "render", "schema"]

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "charts" / "flead" / "values.schema.json"
Node = dict[str, Any]


def obj(
    props: Node, desc: str | None = None, required: list[str] | None = None, extra: bool = False
) -> Node:
    """An object node that (by default) rejects unknown keys."""
    o: Node = {"type": "object", "additionalProperties": extra, "properties": props}
    if desc:
        o["description"] = desc
    if required:
        o["required"] = required
    return o


def s(desc: str, **kw: Any) -> Node:
    """A string node."""
    return {"type": "string", "description": desc, **kw}


def b(desc: str) -> Node:
    """A boolean node."""
    return {"type": "boolean", "description": desc}


def i(desc: str, **kw: Any) -> Node:
    """An integer node."""
    return {"type": "integer", "description": desc, **kw}


def arr(items: Node, desc: str, **kw: Any) -> Node:
    """An array node."""
    return {"type": "array", "items": items, "description": desc, **kw}


def pull_policy(desc: str, *also: str) -> Node:
    """An imagePullPolicy node; `also` adds accepted values (e.g. "" = inherit)."""
    return {
        "type": "string",
        "enum": [*also, "Always", "IfNotPresent", "Never"],
        "description": desc,
    }


PORT = {"minimum": 1, "maximum": 65535}
DURATION = {"pattern": r"^([0-9]+(ms|s|m|h))+$"}

DEFINITIONS: Node = {
    "image": obj(
        {
            "repository": s("image repository", minLength=1),
            "tag": s("image tag or sha256: digest; empty = the chart's appVersion"),
            "pullPolicy": pull_policy("image pull policy"),
        },
        "container image",
        required=["repository", "tag", "pullPolicy"],
    ),
    "fleadImage": obj(
        {
            "registry": s("registry (and path) prefixed to the repository; empty = image.registry"),
            "repository": s("image repository, without the registry", minLength=1),
            "tag": s("image tag or sha256: digest; empty = image.tag"),
            "pullPolicy": pull_policy(
                "image pull policy; empty = image.pullPolicy",
                "",
            ),
        },
        "one FLEAD image; empty fields take the top-level image.* defaults",
        required=["repository", "tag", "pullPolicy"],
    ),
    "quantity": {
        "anyOf": [
            {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$"},
            {"type": "number", "minimum": 0},
        ]
    },
    "resources": obj(
        {
            "requests": {
                "type": "object",
                "additionalProperties": {"$ref": "#/definitions/quantity"},
                "description": "resource requests",
            },
            "limits": {
                "type": "object",
                "additionalProperties": {"$ref": "#/definitions/quantity"},
                "description": "resource limits",
            },
        },
        "container resources (core/v1 ResourceRequirements)",
    ),
    "nodeSelector": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "node selector",
    },
    "tolerations": {
        "type": "array",
        "items": {"type": "object"},
        "description": "tolerations (core/v1 Toleration)",
    },
    "affinity": {"type": "object", "description": "affinity (core/v1 Affinity)"},
    "annotations": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "annotations",
    },
    "labels": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "labels",
    },
    "envList": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1}},
        },
        "description": "list of core/v1 EnvVar",
    },
    "envMap": {
        "type": "object",
        "additionalProperties": {"type": ["string", "number", "boolean"]},
        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "description": "environment variables, name -> value",
    },
    "persistence": obj(
        {
            "enabled": b("use a PersistentVolumeClaim (false = emptyDir)"),
            "size": s("claim size", pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"),
            "storageClass": s("StorageClass; empty = cluster default"),
        },
        "storage of a development StatefulSet",
        required=["enabled", "size", "storageClass"],
    ),
}


def sched() -> Node:
    """Scheduling knobs every pod has."""
    return {
        "nodeSelector": {"$ref": "#/definitions/nodeSelector"},
        "tolerations": {"$ref": "#/definitions/tolerations"},
        "affinity": {"$ref": "#/definitions/affinity"},
    }


def schema() -> Node:
    """The whole values schema."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "FLEAD Helm chart values",
        "type": "object",
        "additionalProperties": False,
        "definitions": DEFINITIONS,
        "properties": {
            "global": {
                "type": "object",
                "description": "values Helm shares with parent/sub charts",
            },
            "nameOverride": s("override the chart name in object names", maxLength=63),
            "fullnameOverride": s("override the full object name prefix", maxLength=63),
            "image": obj(
                {
                    "registry": s(
                        "registry (and path) of the four FLEAD images, e.g. registry.example.com/flead;"
                        " empty = bare names (flead-operator, ...)",
                        pattern=r"^([^/\s:]+(:[0-9]+)?(/[^/\s]+)*/?)?$",
                    ),
                    "tag": s("tag (or sha256: digest) of the FLEAD images; empty = appVersion"),
                    "pullPolicy": pull_policy("pull policy of the FLEAD images"),
                },
                "defaults of the four FLEAD images (operator, trainer, aggregator, producer)",
                required=["registry", "tag", "pullPolicy"],
            ),
            "imagePullSecrets": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "description": "names of image pull Secrets",
            },
            "podSecurityContext": {
                "type": "object",
                "description": "pod securityContext of FLEAD's own pods (core/v1 PodSecurityContext)",
            },
            "containerSecurityContext": {
                "type": "object",
                "description": "securityContext of every container (core/v1 SecurityContext)",
            },
            "config": obj(
                {
                    "logFormat": {
                        "type": "string",
                        "enum": ["json", "console"],
                        "description": "FLEAD_LOG_FORMAT",
                    },
                    "logLevel": {
                        "type": "string",
                        "enum": ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                        "description": "FLEAD_LOG_LEVEL",
                    },
                    "readingsTopic": s("FLEAD_READINGS_TOPIC", pattern=r"^[A-Za-z0-9._-]{1,249}$"),
                    "readingsPartitions": i("FLEAD_READINGS_PARTITIONS", minimum=1, maximum=4096),
                    "mongodbDatabase": s(
                        "FLEAD_MONGODB_DATABASE", pattern=r"^[A-Za-z0-9_-]{1,63}$"
                    ),
                },
                "settings every FLEAD process shares",
                required=[
                    "logFormat",
                    "logLevel",
                    "readingsTopic",
                    "readingsPartitions",
                    "mongodbDatabase",
                ],
            ),
            "credentials": obj(
                {
                    "existingSecret": s(
                        "Secret with FLEAD_AGGREGATOR_TOKEN and FLEAD_MONGODB_URI; empty = the chart creates one"
                    ),
                    "aggregatorToken": s(
                        "aggregator bearer token; empty = generated once and kept"
                    ),
                },
                "Secret read by the aggregator and the trainers",
                required=["existingSecret", "aggregatorToken"],
            ),
            "operator": obj(
                {
                    "image": {"$ref": "#/definitions/fleadImage"},
                    "serviceAccount": obj(
                        {
                            "create": b("create the operator's ServiceAccount"),
                            "annotations": {"$ref": "#/definitions/annotations"},
                        },
                        "the operator's ServiceAccount",
                    ),
                    "rbac": obj(
                        {"create": b("create the operator's ClusterRole/Roles and bindings")},
                        "RBAC",
                    ),
                    "maxDevicesPerTrainer": i(
                        "FLEAD_OPERATOR_MAX_DEVICES_PER_TRAINER (0 = no limit)", minimum=0
                    ),
                    "watchNamespaces": {
                        "type": "array",
                        "items": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                        "uniqueItems": True,
                        "description": "namespaces to watch; empty = all",
                    },
                    "partitionsPerTrainer": i(
                        "FLEAD_OPERATOR_PARTITIONS_PER_TRAINER", minimum=1, maximum=4096
                    ),
                    "livenessPort": i("kopf liveness port", **PORT),
                    "metricsPort": i("operator metrics port", **PORT),
                    "extraEnv": {"$ref": "#/definitions/envList"},
                    "resources": {"$ref": "#/definitions/resources"},
                    "podAnnotations": {"$ref": "#/definitions/annotations"},
                    **sched(),
                },
                "the kopf operator",
                required=["image", "partitionsPerTrainer", "livenessPort", "metricsPort"],
            ),
            "trainer": obj(
                {
                    "image": {"$ref": "#/definitions/fleadImage"},
                    "metricsPort": i("trainer FLEAD_METRICS_PORT", **PORT),
                    "resources": obj(
                        {
                            "requests": obj(
                                {
                                    "cpu": {
                                        "$ref": "#/definitions/quantity",
                                        "description": "FLEAD_OPERATOR_TRAINER_CPU_REQUEST",
                                    },
                                    "memory": {
                                        "$ref": "#/definitions/quantity",
                                        "description": "FLEAD_OPERATOR_TRAINER_MEMORY_REQUEST",
                                    },
                                },
                                "trainer requests",
                                required=["cpu", "memory"],
                            ),
                            "limits": obj(
                                {
                                    "cpu": {
                                        "$ref": "#/definitions/quantity",
                                        "description": "FLEAD_OPERATOR_TRAINER_CPU_LIMIT",
                                    },
                                    "memory": {
                                        "$ref": "#/definitions/quantity",
                                        "description": "FLEAD_OPERATOR_TRAINER_MEMORY_LIMIT",
                                    },
                                },
                                "trainer limits",
                                required=["cpu", "memory"],
                            ),
                        },
                        "trainer container resources",
                        required=["requests", "limits"],
                    ),
                    "metricsPortName": s(
                        "name of the trainers' metrics container port",
                        pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                        maxLength=15,
                    ),
                    "podSelector": {
                        "allOf": [{"$ref": "#/definitions/labels"}],
                        "minProperties": 1,
                        "description": "labels of trainer pods",
                    },
                    "groupLabel": s("pod label holding the partition group", minLength=1),
                    "extraEnv": {"$ref": "#/definitions/envMap"},
                },
                "what the operator passes to trainers",
                required=[
                    "image",
                    "metricsPort",
                    "metricsPortName",
                    "resources",
                    "podSelector",
                    "groupLabel",
                ],
            ),
            "aggregator": obj(
                {
                    "image": {"$ref": "#/definitions/fleadImage"},
                    "replicaCount": i(
                        "aggregator replicas: 0 or 1 (a round lives in one process; see docs/deploy.md)",
                        minimum=0,
                        maximum=1,
                    ),
                    "port": i("container port", **PORT),
                    "service": obj(
                        {
                            "type": {
                                "type": "string",
                                "enum": ["ClusterIP", "NodePort", "LoadBalancer"],
                                "description": "Service type",
                            },
                            "port": i("Service port", **PORT),
                        },
                        "aggregator Service",
                        required=["type", "port"],
                    ),
                    "auth": obj(
                        {
                            "mode": {
                                "type": "string",
                                "enum": ["serviceaccount", "static"],
                                "description": "trainers' ServiceAccount tokens, or one static token",
                            },
                            "admins": {
                                "type": "array",
                                "items": s(
                                    "system:serviceaccount:<namespace>:<name>",
                                    pattern=r"^system:serviceaccount:[a-z0-9-]+:[a-z0-9.-]+$",
                                ),
                                "description": "identities that may aggregate and roll back",
                            },
                            "cacheSeconds": i("reuse of a token's review", minimum=0, maximum=300),
                        },
                        "how trainers authenticate",
                        required=["mode", "admins", "cacheSeconds"],
                    ),
                    "rbac": obj(
                        {"create": b("ServiceAccount, tokenreviews ClusterRole, namespace Role")},
                        "the aggregator's RBAC",
                        required=["create"],
                    ),
                    "extraEnv": {"$ref": "#/definitions/envList"},
                    "resources": {"$ref": "#/definitions/resources"},
                    "podAnnotations": {"$ref": "#/definitions/annotations"},
                    **sched(),
                    "dev": obj(
                        {
                            "reload": b("run uvicorn --reload (Skaffold dev profile)"),
                            "app": s(
                                "ASGI app for uvicorn",
                                pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*(\(\))?$",
                            ),
                        },
                        "development knobs",
                        required=["reload", "app"],
                    ),
                },
                "the aggregator",
                required=["image", "replicaCount", "port", "service", "dev"],
            ),
            "producer": obj(
                {
                    "enabled": b("deploy the producer"),
                    "image": {"$ref": "#/definitions/fleadImage"},
                    "metricsPort": i("producer FLEAD_METRICS_PORT", **PORT),
                    "env": {"$ref": "#/definitions/envMap"},
                    "resources": {"$ref": "#/definitions/resources"},
                    "podAnnotations": {"$ref": "#/definitions/annotations"},
                    **sched(),
                },
                "the optional producer",
                required=["enabled", "image", "metricsPort"],
            ),
            "kafka": obj(
                {
                    "enabled": b("deploy the development Kafka"),
                    "image": {"$ref": "#/definitions/image"},
                    "port": i("client port", **PORT),
                    "clusterId": s(
                        "KRaft cluster id; empty = derived", pattern=r"^([A-Za-z0-9_-]{22})?$"
                    ),
                    "heapOpts": s("KAFKA_HEAP_OPTS"),
                    "persistence": {"$ref": "#/definitions/persistence"},
                    "resources": {"$ref": "#/definitions/resources"},
                    **sched(),
                },
                "development Kafka",
                required=["enabled", "image", "port", "persistence"],
            ),
            "externalKafka": obj(
                {
                    "bootstrapServers": s(
                        "comma separated host:port list",
                        pattern=r"^$|^[^,\s]+:[0-9]+(,[^,\s]+:[0-9]+)*$",
                    ),
                },
                "production Kafka",
                required=["bootstrapServers"],
            ),
            "mongodb": obj(
                {
                    "enabled": b("deploy the development MongoDB"),
                    "image": {"$ref": "#/definitions/image"},
                    "port": i("MongoDB port", **PORT),
                    "persistence": {"$ref": "#/definitions/persistence"},
                    "resources": {"$ref": "#/definitions/resources"},
                    **sched(),
                },
                "development MongoDB",
                required=["enabled", "image", "port", "persistence"],
            ),
            "externalMongodb": obj(
                {
                    "uri": s("FLEAD_MONGODB_URI", pattern=r"^$|^mongodb(\+srv)?://"),
                },
                "production MongoDB",
                required=["uri"],
            ),
            "monitoring": obj(
                {
                    "namespace": s("namespace of monitoring objects; empty = the release's"),
                    "serviceMonitor": obj(
                        {
                            "enabled": b("create ServiceMonitors and the trainer PodMonitor"),
                            "labels": {"$ref": "#/definitions/labels"},
                            "interval": s("scrape interval", **DURATION),
                            "scrapeTimeout": s("scrape timeout", **DURATION),
                        },
                        "ServiceMonitors",
                        required=["enabled", "labels", "interval", "scrapeTimeout"],
                    ),
                    "prometheusRule": obj(
                        {
                            "enabled": b("create the PrometheusRule"),
                            "labels": {"$ref": "#/definitions/labels"},
                            "noNewVersionMinutes": i(
                                "minutes without a new global version", minimum=1
                            ),
                            "consumerLagMessages": i("consumer lag threshold", minimum=0),
                            "deadLettersPerSecond": {
                                "type": "number",
                                "minimum": 0,
                                "description": "dead-letter rate threshold",
                            },
                            "anomalySpikeFactor": {
                                "type": "number",
                                "exclusiveMinimum": 1,
                                "description": "spike factor over the 1h average",
                            },
                            "anomalyMinPerSecond": {
                                "type": "number",
                                "minimum": 0,
                                "description": "minimum anomaly rate to alert",
                            },
                        },
                        "PrometheusRule and thresholds",
                        required=[
                            "enabled",
                            "labels",
                            "noNewVersionMinutes",
                            "consumerLagMessages",
                            "deadLettersPerSecond",
                            "anomalySpikeFactor",
                            "anomalyMinPerSecond",
                        ],
                    ),
                    "dashboards": obj(
                        {
                            "enabled": b("create dashboard ConfigMaps"),
                            "labels": {"$ref": "#/definitions/labels"},
                            "annotations": {"$ref": "#/definitions/annotations"},
                        },
                        "Grafana dashboard ConfigMaps",
                        required=["enabled", "labels", "annotations"],
                    ),
                },
                "Prometheus Operator objects and dashboards",
                required=["serviceMonitor", "prometheusRule", "dashboards"],
            ),
            "networkPolicy": obj(
                {
                    "enabled": b("NetworkPolicies for every FLEAD pod"),
                    "metricsFrom": arr({"type": "object"}, "NetworkPolicyPeers that may scrape"),
                    "aggregatorFrom": arr({"type": "object"}, "more peers of the aggregator"),
                    "apiServer": arr({"type": "object"}, "API server peers; empty = any address"),
                    "apiServerPorts": arr(i("port", **PORT), "API server ports", minItems=1),
                    "operatorEgressPorts": arr(i("port", **PORT), "more operator egress ports"),
                },
                "least-privilege networking",
                required=[
                    "enabled",
                    "metricsFrom",
                    "aggregatorFrom",
                    "apiServer",
                    "apiServerPorts",
                    "operatorEgressPorts",
                ],
            ),
            "tests": obj(
                {
                    "enabled": b("render the helm test pod"),
                    "readyWithinSeconds": i("how long the helm test waits for /readyz", minimum=1),
                    "resources": {"$ref": "#/definitions/resources"},
                },
                "helm test",
                required=["enabled"],
            ),
        },
    }


def render() -> str:
    """The schema as committed: two-space indent, final newline."""
    return json.dumps(schema(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write charts/flead/values.schema.json, or with --check report whether it is current."""
    parser = argparse.ArgumentParser(prog="python -m deploy.values_schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not SCHEMA_PATH.is_file() or SCHEMA_PATH.read_text() != text:
            print(
                f"out of date: {SCHEMA_PATH}; run python -m deploy.values_schema", file=sys.stderr
            )
            return 1
        return 0
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
