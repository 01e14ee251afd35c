"""skaffold.yaml against Skaffold's own v4beta13 JSON schema, and the kind config against a strict
schema of kind's v1alpha4 Cluster fields (kind cannot run here without Docker)."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .support import CHART, ROOT, STACK_CHART

pytestmark = pytest.mark.unit

SKAFFOLD = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
KIND_CONFIG = ROOT / "manifests" / "kind-config.yaml"
# Skaffold's Go module carries the schemas (docs-v2/content/en/schemas/); this tag has v4beta13.
SKAFFOLD_MODULE = "github.com/GoogleContainerTools/skaffold/v2@v2.16.1"
SCHEMA_PATH = "docs-v2/content/en/schemas/v4beta13.json"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "flead" / "deploy"


@pytest.fixture(scope="module")
def skaffold_schema() -> dict[str, Any]:
    """The v4beta13 schema from the Skaffold module, fetched once through the Go module proxy."""
    env = {
        **os.environ,
        "GOMODCACHE": str(CACHE / "gomod"),
        "GOFLAGS": "-modcacherw",
        "GOSUMDB": "off",
        "GOPROXY": os.environ.get("GOPROXY", "https://proxy.golang.org"),
    }
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        pytest.skip("no Go toolchain to fetch the Skaffold module (schema source)")
    result = subprocess.run(
        [go, "mod", "download", "-json", SKAFFOLD_MODULE],
        capture_output=True,
        text=True,
        env=env,
        cwd=CACHE.parent if CACHE.parent.exists() else None,
        check=False,
        timeout=900,
    )
    if result.returncode != 0:
        pytest.skip(
            f"cannot download {SKAFFOLD_MODULE}: {result.stdout[-300:]}{result.stderr[-300:]}"
        )
    path = Path(json.loads(result.stdout)["Dir"]) / SCHEMA_PATH
    return json.loads(path.read_text())


def apply_profile(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The config with profile `name`'s JSON-patch `add` operations applied (as skaffold does)."""
    out = copy.deepcopy(config)
    (profile,) = [p for p in config["profiles"] if p["name"] == name]
    for patch in profile["patches"]:
        assert patch["op"] == "add"
        *parents, leaf = patch["path"].strip("/").split("/")
        node: Any = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[leaf] = patch["value"]
    return out


def test_skaffold_yaml_validates_against_v4beta13(skaffold_schema: dict[str, Any]) -> None:
    """skaffold.yaml, and the same with the dev profile applied, are valid v4beta13 configs."""
    assert SKAFFOLD["apiVersion"] == "skaffold/v4beta13"
    validator = jsonschema.Draft7Validator(skaffold_schema)
    for config in (SKAFFOLD, apply_profile(SKAFFOLD, "dev")):
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(config)]
        assert not errors, errors


def test_schema_catches_a_misspelt_key(skaffold_schema: dict[str, Any]) -> None:
    """The schema is strict enough to matter: an unknown portForward key is an error."""
    bad = copy.deepcopy(SKAFFOLD)
    bad["portForward"][0]["localport"] = 8000
    assert list(jsonschema.Draft7Validator(skaffold_schema).iter_errors(bad))


def test_four_artifacts_built_from_the_repository_root() -> None:
    """operator, trainer, aggregator and producer images, each from its Dockerfile on its base."""
    artifacts = {a["image"]: a for a in SKAFFOLD["build"]["artifacts"]}
    assert set(artifacts) == {
        "flead-operator",
        "flead-trainer",
        "flead-aggregator",
        "flead-producer",
        "flead-base-services",
        "flead-base-operator",
    }
    for artifact in artifacts.values():
        assert artifact["context"] == "."
        assert (ROOT / artifact["docker"]["dockerfile"]).is_file()
    for name in ("flead-operator", "flead-trainer", "flead-aggregator", "flead-producer"):
        extras = "operator" if name == "flead-operator" else "services"
        assert artifacts[name]["requires"] == [
            {"image": f"flead-base-{extras}", "alias": "BASE_IMAGE"}
        ]
        assert artifacts[f"flead-base-{extras}"]["docker"]["buildArgs"] == {"EXTRAS": extras}


def test_value_templates_set_real_chart_values() -> None:
    """Every setValueTemplates key names an image value of the flead subchart, for each artifact."""
    (release,) = SKAFFOLD["deploy"]["helm"]["releases"]
    assert (ROOT / release["chartPath"]).resolve() == STACK_CHART
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    images = {
        a["image"].replace("-", "_")
        for a in SKAFFOLD["build"]["artifacts"]
        if not a["image"].startswith("flead-base-")
    }
    used = set()
    for key, template in release["setValueTemplates"].items():
        prefix, *path = key.split(".")
        assert prefix == "flead"
        node: Any = values
        for part in path:
            node = node[part]
        match = re.fullmatch(r"\{\{\.IMAGE_(REPO|TAG)_(\w+)\}\}", template)
        assert match, template
        used.add(match.group(2))
    assert used == images


def test_port_forwards_and_dev_sync_fit_the_chart_and_images() -> None:
    """The aggregator Service forwarded exists in the chart; synced files land on PYTHONPATH."""
    forwards = {(p["resourceName"], p["port"]) for p in SKAFFOLD["portForward"]}
    assert ("flead-aggregator", 8000) in forwards
    assert ("flead-grafana", 80) in forwards
    dev = apply_profile(SKAFFOLD, "dev")
    aggregator = next(a for a in dev["build"]["artifacts"] if a["image"] == "flead-aggregator")
    dockerfile = (ROOT / aggregator["docker"]["dockerfile"]).read_text()
    pythonpath = re.search(r"PYTHONPATH=(\S+)", dockerfile).group(1).split(":")  # type: ignore[union-attr]
    for rule in aggregator["sync"]["manual"]:
        top = rule["src"].split("/**")[0]
        package_parent = str(Path(rule["dest"]) / Path(top).parent)
        assert package_parent in pythonpath, (rule, pythonpath)
    release = dev["deploy"]["helm"]["releases"][0]
    assert release["setValues"]["flead.aggregator.dev.reload"] is True


# kind v1alpha4 Cluster fields (sigs.k8s.io/kind/pkg/apis/config/v1alpha4/types.go), strict.
_MOUNT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["hostPath", "containerPath"],
    "properties": {
        "containerPath": {"type": "string"},
        "hostPath": {"type": "string"},
        "readOnly": {"type": "boolean"},
        "selinuxRelabel": {"type": "boolean"},
        "propagation": {"enum": ["None", "HostToContainer", "Bidirectional"]},
    },
}
_PORT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["containerPort"],
    "properties": {
        "containerPort": {"type": "integer"},
        "hostPort": {"type": "integer"},
        "listenAddress": {"type": "string"},
        "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
    },
}
_PATCHES = {"type": "array", "items": {"type": "string"}}
_JSON6902 = {"type": "array", "items": {"type": "object"}}
KIND_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "apiVersion"],
    "properties": {
        "kind": {"const": "Cluster"},
        "apiVersion": {"const": "kind.x-k8s.io/v1alpha4"},
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "featureGates": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "runtimeConfig": {"type": "object", "additionalProperties": {"type": "string"}},
        "kubeadmConfigPatches": _PATCHES,
        "kubeadmConfigPatchesJSON6902": _JSON6902,
        "containerdConfigPatches": _PATCHES,
        "containerdConfigPatchesJSON6902": _PATCHES,
        "nodes": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["role"],
                "properties": {
                    "role": {"enum": ["control-plane", "worker"]},
                    "image": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "extraMounts": {"type": "array", "items": _MOUNT},
                    "extraPortMappings": {"type": "array", "items": _PORT},
                    "kubeadmConfigPatches": _PATCHES,
                    "kubeadmConfigPatchesJSON6902": _JSON6902,
                },
            },
        },
        "networking": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ipFamily": {"enum": ["ipv4", "ipv6", "dual"]},
                "apiServerPort": {"type": "integer"},
                "apiServerAddress": {"type": "string"},
                "podSubnet": {"type": "string"},
                "serviceSubnet": {"type": "string"},
                "disableDefaultCNI": {"type": "boolean"},
                "kubeProxyMode": {"enum": ["iptables", "ipvs", "nftables", "none"]},
                "dnsSearch": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}


def test_kind_config_decodes_strictly() -> None:
    """manifests/kind-config.yaml uses only kind v1alpha4 Cluster fields, one control plane."""
    config = yaml.safe_load(KIND_CONFIG.read_text())
    jsonschema.Draft7Validator(KIND_SCHEMA).validate(config)
    roles = [n["role"] for n in config["nodes"]]
    assert roles.count("control-plane") == 1


def test_kind_schema_rejects_unknown_fields() -> None:
    """The strict schema above refuses a misspelt field (as kind's strict decoder does)."""
    config = yaml.safe_load(KIND_CONFIG.read_text())
    config["nodes"][0]["extraPortMapping"] = []
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(KIND_SCHEMA).validate(config)
