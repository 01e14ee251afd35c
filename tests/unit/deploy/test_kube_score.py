"""kube-score on the rendered chart: its ci output parsed, every CRITICAL explained by the short
ignore list, and (when kube-score is built: `make kube-score`) the chart as it is today."""

from __future__ import annotations

import pytest
from deploy import kube_score
from deploy.kube_score import Finding, parse, unexplained

from .support import helm_or_skip

pytestmark = pytest.mark.unit

OUTPUT = """\
[OK] flead-aggregator/flead apps/v1/Deployment
[CRITICAL] flead-aggregator/flead apps/v1/Deployment: (aggregator) ImagePullPolicy is not set to Always
[CRITICAL] flead-trainers/flead networking.k8s.io/v1/NetworkPolicy: The NetworkPolicys selector doesn't match any pods
[CRITICAL] flead-operator/flead apps/v1/Deployment: Container has the same readiness and liveness probe
[WARNING] flead-operator/flead apps/v1/Deployment: Deployment few replicas
"""


def test_ci_output_is_parsed() -> None:
    """Level, kind (without its API group), name and message of every line."""
    findings = parse(OUTPUT)
    assert findings[0] == Finding("OK", "Deployment", "flead-aggregator", "")
    assert findings[2].target == "NetworkPolicy/flead-trainers"
    assert [f.level for f in findings] == ["OK", "CRITICAL", "CRITICAL", "CRITICAL", "WARNING"]


def test_only_explained_criticals_pass() -> None:
    """Pull policy and the operator-made trainers are explained; the same probes on the
    operator are not (its readiness is its metrics endpoint); warnings never fail."""
    left = unexplained(parse(OUTPUT))
    assert [f.target for f in left] == ["Deployment/flead-operator"]


def test_every_ignore_entry_says_why() -> None:
    """A short list, each entry with its reason."""
    assert len(kube_score.IGNORED) <= 6
    assert all(len(why) > 30 for _, _, why in kube_score.IGNORED)


def test_the_chart_has_no_unexplained_critical() -> None:
    """The rendered chart (default and production values) scores no CRITICAL outside IGNORED."""
    binary = kube_score.find_kube_score()
    if binary is None:
        pytest.skip("kube-score is not built: make kube-score")
    helm = helm_or_skip()
    for values in kube_score.VALUES:
        findings = kube_score.score(binary, kube_score.render(helm, values))
        assert sum(f.level == "OK" for f in findings) > 50
        assert unexplained(findings) == [], values
