"""The chart's alert rules parse and behave: `promtool check rules` and `promtool test rules`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .support import ROOT, by_kind, helm_template

pytestmark = pytest.mark.unit

ALERT_TESTS = ROOT / "tests" / "data" / "deploy" / "alerts_test.yaml"


def promtool() -> str:
    """Path of promtool, or skip."""
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    return path


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the rendered rules (default thresholds) as rules.yaml and the promtool tests."""
    docs = helm_template(set_values=["monitoring.prometheusRule.enabled=true"])
    (rule,) = by_kind(docs, "PrometheusRule")
    folder = tmp_path_factory.mktemp("alerts")
    (folder / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    shutil.copy(ALERT_TESTS, folder / "alerts_test.yaml")
    return folder


def test_alert_rules_parse(rules_dir: Path) -> None:
    """promtool check rules accepts every alert expression."""
    result = subprocess.run(
        [promtool(), "check", "rules", str(rules_dir / "rules.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 rules found" in result.stdout


def test_alert_rules_fire_when_they_should(rules_dir: Path) -> None:
    """promtool test rules: each alert fires on its synthetic series, after its `for`, and not before."""
    result = subprocess.run(
        [promtool(), "test", "rules", "alerts_test.yaml"],
        cwd=rules_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_promtool_test() -> None:
    """No alert ships without a firing case in tests/data/deploy/alerts_test.yaml."""
    docs = helm_template(set_values=["monitoring.prometheusRule.enabled=true"])
    (rule,) = by_kind(docs, "PrometheusRule")
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    firing = {
        case["alertname"]
        for t in tests
        for case in t.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts == firing
