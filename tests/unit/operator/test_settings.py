"""Operator settings: FLEAD_OPERATOR_* variables, shared FLEAD_* fall-backs, validation."""

from __future__ import annotations

import pydantic
import pytest

from flead_operator.settings import OperatorSettings

pytestmark = pytest.mark.unit


def test_defaults() -> None:
    """Defaults match docs/operator.md and the chart."""
    s = OperatorSettings()
    assert (s.readings_partitions, s.partitions_per_trainer, s.metrics_port) == (12, 4, 9102)
    assert s.debounce_seconds == 1.0


def test_environment_with_prefix_and_shared_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """FLEAD_OPERATOR_* wins; FLEAD_READINGS_PARTITIONS and FLEAD_LOG_FORMAT are shared names."""
    monkeypatch.setenv("FLEAD_OPERATOR_PARTITIONS_PER_TRAINER", "2")
    monkeypatch.setenv("FLEAD_OPERATOR_TRAINER_IMAGE", "img:1")
    monkeypatch.setenv("FLEAD_READINGS_PARTITIONS", "24")
    monkeypatch.setenv("FLEAD_LOG_FORMAT", "console")
    s = OperatorSettings()
    assert (s.partitions_per_trainer, s.trainer_image, s.readings_partitions) == (2, "img:1", 24)
    assert s.log_format == "console"


def test_bad_value_is_rejected_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A zero partitions-per-trainer fails validation naming the setting."""
    monkeypatch.setenv("FLEAD_OPERATOR_PARTITIONS_PER_TRAINER", "0")
    with pytest.raises(pydantic.ValidationError, match="partitions_per_trainer"):
        OperatorSettings()
