"""The API server itself rejects bad FederatedDevices, with a message naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.testbed import kubectl

pytestmark = pytest.mark.cluster


def _device(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flead.io/v1alpha1",
        "kind": "FederatedDevice",
        "metadata": {"name": name},
        "spec": {"deviceId": "7", **spec},
    }


def _apply(namespace: str, obj: dict[str, Any]) -> tuple[int, str]:
    proc = kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj), check=False)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize(
    ("spec", "field", "reason"),
    [
        ({"partition": -1}, "spec.partition", "between 0 and 4095"),
        ({"partition": 4096}, "spec.partition", "between 0 and 4095"),
        ({"partitionGroup": "Bad_Group"}, "spec.partitionGroup", "lower-case DNS label"),
        ({"partitionGroup": "p1-2"}, "spec.partitionGroup", "reserved for automatic groups"),
        ({"model": {"hiddenUnits": 16.5}}, "spec.model.hiddenUnits", "integer"),
        ({"model": {"learningRate": 0.001}}, "spec.model.learningRate", "string"),
        ({"model": {"learningRate": "fast"}}, "spec.model.learningRate", "decimal string"),
        ({"model": {"thresholdQuantile": "1.5"}}, "spec.model.thresholdQuantile", "between"),
        ({"deviceId": "-bad-"}, "spec.deviceId", "letters, digits"),
        ({"sensors": ["Temp C"]}, "spec.sensors", "snake_case"),
        ({"frequency": 5}, "spec.frequency", "unknown field"),
    ],
)
def test_invalid_objects_are_rejected_naming_the_field(
    crd: str, k8s_namespace: str, spec: dict[str, Any], field: str, reason: str
) -> None:
    """kubectl apply (strict field validation) fails and its error names the field and reason."""
    code, stderr = _apply(k8s_namespace, _device("bad", **spec))
    assert code != 0
    assert field in stderr, stderr
    assert reason in stderr, stderr


def test_missing_device_id_is_rejected(crd: str, k8s_namespace: str) -> None:
    """spec.deviceId is required."""
    obj = _device("bad")
    del obj["spec"]["deviceId"]
    code, stderr = _apply(k8s_namespace, obj)
    assert code != 0
    assert "spec.deviceId" in stderr


def test_defaults_are_filled_and_device_id_is_immutable(crd: str, k8s_namespace: str) -> None:
    """A minimal object gets sensors and paused defaults; changing deviceId later is refused."""
    code, stderr = _apply(k8s_namespace, _device("ok", model={"learningRate": "0.001"}))
    assert code == 0, stderr
    spec = json.loads(kubectl("get", "fd", "ok", "-n", k8s_namespace, "-o", "json").stdout)["spec"]
    assert spec["sensors"] == ["temperature", "humidity", "light", "voltage"]
    assert spec["paused"] is False
    code, stderr = _apply(k8s_namespace, {**_device("ok"), "spec": {"deviceId": "8"}})
    assert code != 0
    assert "spec.deviceId is immutable" in stderr
