"""The CRD file: names, printer columns, a structural schema, and the samples it must accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from flead_operator.samples import render, samples

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CRD = yaml.safe_load((ROOT / "charts/flead/crds/federateddevices.flead.io.yaml").read_text())
VERSION = CRD["spec"]["versions"][0]
SCHEMA = VERSION["schema"]["openAPIV3Schema"]


def _walk(node: Any, path: str = "") -> list[tuple[str, dict]]:
    found = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, child in node.get("properties", {}).items():
            found += _walk(child, f"{path}.{key}")
        if "items" in node:
            found += _walk(node["items"], f"{path}[]")
    return found


def test_names_scope_and_version() -> None:
    """flead.io/v1alpha1 FederatedDevice, namespaced, short name fd, category flead."""
    names = CRD["spec"]["names"]
    assert CRD["metadata"]["name"] == "federateddevices.flead.io"
    assert (names["kind"], names["shortNames"], names["categories"]) == (
        "FederatedDevice",
        ["fd"],
        ["flead"],
    )
    assert CRD["spec"]["scope"] == "Namespaced"
    assert (VERSION["name"], VERSION["served"], VERSION["storage"]) == ("v1alpha1", True, True)
    assert VERSION["subresources"] == {"status": {}}


def test_printer_columns() -> None:
    """Device, Partition, Group, Trainer, Ready, Anomalies, Age in the default view."""
    default = [c["name"] for c in VERSION["additionalPrinterColumns"] if not c.get("priority")]
    assert default == ["Device", "Partition", "Group", "Trainer", "Ready", "Anomalies", "Age"]


def test_schema_is_structural_and_float_free() -> None:
    """Every node has a type, no additionalProperties/preserve-unknown, no number fields, no phase."""
    for path, node in _walk(SCHEMA):
        assert "type" in node, path
        assert "additionalProperties" not in node, path
        assert not node.get("x-kubernetes-preserve-unknown-fields"), path
        assert node["type"] != "number", path
    assert "phase" not in SCHEMA["properties"]["status"]["properties"]


def test_every_cel_message_names_its_field() -> None:
    """Each CEL rule's message starts with the path of the field it guards."""
    for path, node in _walk(SCHEMA):
        for rule in node.get("x-kubernetes-validations", []):
            field = path.lstrip(".").removesuffix("[]")
            assert rule["message"].startswith(field), (path, rule["message"])


def test_defaults_and_status_fields() -> None:
    """sensors defaults to the 4 Intel Lab channels, paused to false; status has what it needs."""
    spec = SCHEMA["properties"]["spec"]["properties"]
    assert spec["sensors"]["default"] == ["temperature", "humidity", "light", "voltage"]
    assert spec["paused"]["default"] is False
    assert set(SCHEMA["properties"]["status"]["properties"]) == {
        "observedGeneration",
        "partition",
        "partitionGroup",
        "trainer",
        "lastSeen",
        "anomalies",
        "conditions",
    }


def test_samples_match_the_schema_and_the_committed_file() -> None:
    """54 motes with unique names validate, and manifests/samples is the generator's output."""
    objects = samples()
    assert len({o["metadata"]["name"] for o in objects}) == 54
    assert [o["spec"]["deviceId"] for o in objects] == [str(i) for i in range(1, 55)]
    for obj in objects:
        jsonschema.validate(obj, SCHEMA)
    committed = (ROOT / "manifests/samples/intel-lab-motes.yaml").read_text()
    assert committed == render(objects)
