"""The Grafana dashboards: generated JSON is current, well-formed, and every query is valid PromQL
over metric names FLEAD documents."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from deploy.dashboards import DASHBOARDS, render_all
from deploy.dashboards.__main__ import main as dashboards_main
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel

from .support import DASHBOARDS_DIR, ROOT, dashboard_targets, metric_names, substitute

pytestmark = pytest.mark.unit

INTERFACES = (ROOT / "docs" / "interfaces.md").read_text()
DOCUMENTED = set(re.findall(r"`(flead_[a-z0-9_]+)", INTERFACES))


def test_committed_json_is_up_to_date() -> None:
    """charts/flead/dashboards/*.json is exactly what deploy/dashboards generates
    (fix: .venv/bin/python -m deploy.dashboards)."""
    rendered = render_all()
    committed = {p.stem: p.read_text() for p in DASHBOARDS_DIR.glob("*.json")}
    assert committed.keys() == rendered.keys()
    for stem, text in rendered.items():
        assert committed[stem] == text, (
            f"{stem}.json is out of date: run python -m deploy.dashboards"
        )


def test_check_mode_detects_a_stale_file(tmp_path: Path) -> None:
    """`python -m deploy.dashboards --check` exits 1 on an edited file and 0 once regenerated."""
    assert dashboards_main(["--out", str(tmp_path)]) == 0
    (tmp_path / "overview.json").write_text("{}\n")
    assert dashboards_main(["--out", str(tmp_path), "--check"]) == 1
    assert dashboards_main(["--out", str(tmp_path)]) == 0
    assert dashboards_main(["--out", str(tmp_path), "--check"]) == 0


def test_json_round_trips_through_the_sdk_models() -> None:
    """Each file loads back into grafana-foundation-sdk's Dashboard model with the same panels."""
    register_default_plugins()
    for path in DASHBOARDS_DIR.glob("*.json"):
        data = json.loads(path.read_text())
        model = DashboardModel.from_json(data)
        assert model.uid == data["uid"]
        assert model.title == data["title"]
        assert len(model.panels or []) == len(data["panels"])


def test_dashboards_are_distinct_and_wired_to_a_datasource_variable() -> None:
    """Unique uids and panel ids; every panel reads the `datasource` variable."""
    uids = set()
    for path in DASHBOARDS_DIR.glob("*.json"):
        data = json.loads(path.read_text())
        uids.add(data["uid"])
        names = [v["name"] for v in data["templating"]["list"]]
        assert "datasource" in names
        ids = [p["id"] for p in data["panels"]]
        assert len(ids) == len(set(ids))
        for panel in data["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert panel["targets"], panel["title"]
    assert len(uids) == len(DASHBOARDS) == 3


def test_device_dashboard_is_templated_by_group_and_device() -> None:
    """The drill-down has `group` and `device` variables and its device panels filter on both."""
    data = json.loads((DASHBOARDS_DIR / "device.json").read_text())
    names = [v["name"] for v in data["templating"]["list"]]
    assert names[-2:] == ["group", "device"]
    device_exprs = [
        e for f, _, e in dashboard_targets() if f == "device.json" and "flead_device_" in e
    ]
    assert device_exprs
    assert all('device=~"$device"' in e for e in device_exprs)


@pytest.mark.parametrize(
    ("stem", "metrics"),
    [
        (
            "overview",
            {
                "flead_readings_consumed_total",
                "flead_anomalies_total",
                "flead_dead_letters_total",
                "flead_consumer_lag_messages",
                "flead_rounds_completed_total",
                "flead_round_participants",
                "flead_update_staleness_versions_bucket",
                "flead_global_model_loss",
                "flead_global_model_version",
            },
        ),
        (
            "operator",
            {
                "flead_operator_devices",
                "flead_operator_groups",
                "flead_operator_trainers",
                "flead_operator_reconcile_duration_seconds_bucket",
                "flead_operator_reconcile_errors_total",
            },
        ),
        ("device", {"flead_device_readings_total", "flead_device_anomaly_score"}),
    ],
)
def test_dashboards_show_what_the_issue_asks(stem: str, metrics: set[str]) -> None:
    """Overview, Operator and Device dashboards cover the metrics issue 6 lists for them."""
    used = set()
    for f, _, expr in dashboard_targets():
        if f == f"{stem}.json":
            used |= metric_names(expr)
    assert metrics <= used


def test_queries_use_only_documented_metrics() -> None:
    """Every metric a panel reads is in docs/interfaces.md (histogram _bucket/_count allowed)."""
    for f, title, expr in dashboard_targets():
        for name in metric_names(expr) - {"up"}:
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            assert name in DOCUMENTED or base in DOCUMENTED, f"{f} / {title}: {name}"


def test_every_panel_query_parses_with_promtool(tmp_path: Path) -> None:
    """All panel expressions, template variables substituted, pass `promtool check rules`."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    targets = dashboard_targets()
    rules = [
        {"record": f"flead:dashboard_query:{i}", "expr": substitute(expr)}
        for i, (_, _, expr) in enumerate(targets)
    ]
    assert all("$" not in r["expr"] for r in rules), "unsubstituted template variable"
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def test_promtool_rejects_a_broken_query(tmp_path: Path) -> None:
    """Sanity check of the method above: a missing parenthesis makes promtool fail."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    path = tmp_path / "bad.yaml"
    bad = {"record": "flead:bad", "expr": "sum(rate(flead_anomalies_total[1m])"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "bad", "rules": [bad]}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
