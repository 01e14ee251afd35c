"""values.yaml and values.schema.json of charts/flead agree, and every value is documented."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml
from deploy import values_schema

from .support import CHART, PRODUCTION_VALUES, STACK_CHART

pytestmark = pytest.mark.unit

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
VALUES_TEXT = (CHART / "values.yaml").read_text()


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref (or a single-element allOf around one)."""
    while True:
        if "$ref" in node:
            node = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[-1]]
        elif "allOf" in node and len(node["allOf"]) == 1 and "properties" not in node:
            node = node["allOf"][0]
        else:
            return node


def walk(values: Any, schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, Any, dict]]:
    """(dotted path, value, schema node) for every value, descending where the schema has properties."""
    node = resolve(schema)
    yield path, values, node
    if isinstance(values, dict) and "properties" in node:
        for key, sub in values.items():
            assert key in node["properties"], f"{path}.{key} is not in values.schema.json"
            yield from walk(sub, node["properties"][key], f"{path}.{key}".lstrip("."))


def test_values_yaml_is_valid_against_the_schema() -> None:
    """The default values pass the chart's own schema (draft-07, as Helm checks it)."""
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.Draft7Validator(SCHEMA).validate(VALUES)


def test_schema_covers_every_value() -> None:
    """Every key of values.yaml has its own node in the schema (none slips through as free-form)."""
    seen = list(walk(VALUES, SCHEMA))
    assert len(seen) > 100
    for path, value, node in seen:
        if isinstance(value, dict) and value and "properties" not in node:
            # free-form maps (labels, resources, securityContext) must say what their values are
            assert node.get("description") or "additionalProperties" in node, path


def test_schema_forbids_unknown_keys() -> None:
    """Typos are rejected: every object with properties sets additionalProperties false."""
    for path, _, node in walk(VALUES, SCHEMA):
        if "properties" in node:
            assert node.get("additionalProperties") is False, path or "<root>"


def test_every_leaf_value_is_documented() -> None:
    """Each leaf (or free-form map) has a comment starting with its dotted name, as Helm's guide asks."""
    documented = set(re.findall(r"^\s*# ([A-Za-z0-9.]+) --", VALUES_TEXT, flags=re.M))
    for path, value, node in walk(VALUES, SCHEMA):
        if not path or ("properties" in node and isinstance(value, dict)):
            continue
        parts = path.split(".")
        prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        assert prefixes & documented, f"{path} has no '# {path} -- ...' comment"


def test_production_values_are_valid_and_different() -> None:
    """ci/production-values.yaml passes the schema once merged over the defaults."""

    def merge(base: dict, over: dict) -> dict:
        out = dict(base)
        for k, v in over.items():
            out[k] = (
                merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
            )
        return out

    production = yaml.safe_load(PRODUCTION_VALUES.read_text())
    merged = merge(VALUES, production)
    jsonschema.Draft7Validator(SCHEMA).validate(merged)
    assert merged["kafka"]["enabled"] is False
    assert merged["mongodb"]["enabled"] is False
    assert merged["credentials"]["existingSecret"]


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"kafka": {"port": 0}}, "port"),
        ({"operator": {"image": {"pullPolicy": "Sometimes"}}}, "pullPolicy"),
        ({"externalMongodb": {"uri": "postgres://x"}}, "uri"),
        ({"monitoring": {"serviceMonitor": {"interval": "soon"}}}, "interval"),
        ({"operator": {"replicas": 2}}, "replicas"),
        ({"aggregator": {"replicaCount": 2}}, "replicaCount"),
    ],
)
def test_schema_rejects_bad_values(patch: dict, where: str) -> None:
    """Out-of-range, misspelt or unknown values get an error naming the field."""

    def merge(base: Any, over: Any) -> Any:
        if isinstance(base, dict) and isinstance(over, dict):
            return {**base, **{k: merge(base.get(k), v) for k, v in over.items()}}
        return over

    with pytest.raises(jsonschema.ValidationError) as info:
        jsonschema.Draft7Validator(SCHEMA).validate(merge(VALUES, patch))
    assert where in str(info.value.path) + info.value.message


def test_umbrella_values_match_its_schema() -> None:
    """charts/flead-stack's values pass its schema, and the flead part passes flead's schema."""
    schema = json.loads((STACK_CHART / "values.schema.json").read_text())
    values = yaml.safe_load((STACK_CHART / "values.yaml").read_text())
    jsonschema.Draft7Validator(schema).validate(values)
    chart = yaml.safe_load((STACK_CHART / "Chart.yaml").read_text())
    deps = {d["name"]: d for d in chart["dependencies"]}
    assert deps["flead"]["repository"] == "file://../flead"
    kps = deps["kube-prometheus-stack"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", kps["version"]), "kube-prometheus-stack must be pinned"
    assert kps["condition"] == "monitoring.enabled"


def test_schema_file_is_generated_from_deploy_values_schema() -> None:
    """charts/flead/values.schema.json is what deploy/values_schema.py generates
    (fix: .venv/bin/python -m deploy.values_schema)."""
    assert values_schema.main(["--check"]) == 0
