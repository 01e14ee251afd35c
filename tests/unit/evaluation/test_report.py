"""metrics.json keeps its contract (keys, strict JSON) and report.md shows tables and verdicts."""

import json
from pathlib import Path

import numpy as np
import pytest

from flead.evaluation.convergence import cumulative_auc_pr, rounds_to_reach
from flead.evaluation.quality_table import main
from flead.evaluation.report import build_metrics, federation_summary, write_report
from flead.evaluation.targets import check_targets

pytestmark = pytest.mark.unit

MODE_KEYS = {"auc_pr", "auc_roc", "f1", "false_alarms_per_device_day", "per_fault_type"}


def _mode(auc: float, alarms: float = 1.0, stuck: float = 1.0) -> dict:
    return {
        "auc_pr": auc, "auc_roc": 0.9, "f1": 0.5, "false_alarms_per_device_day": alarms,
        "auc_pr_injected_macro": auc, "auc_pr_excluding_natural": auc,
        "alarms_after_fault_end": 0.1,
        "per_fault_type": {
            "natural_stuck": {"auc_pr": 0.9, "recall": stuck, "rows": 5, "events": 1},
            "spike": {"auc_pr": auc, "recall": 0.5, "event_recall": 0.95, "rows": 3, "events": 2},
        },
        "device_auc_pr_injected_macro": {"1": auc, "2": auc + 0.1},
        "rows_per_s": 1000.0, "seconds": 2.0, "latency_seconds_median": float("nan"),
    }  # fmt: skip


def _round(i: int, participants: int = 3) -> dict:
    return {"index": i, "sim_time": 0.0, "participants": participants, "samples": 10,
            "loss": 0.1, "bytes_up": 300, "bytes_down": 200, "aggregate_seconds": 0.01,
            "wall_seconds": 0.5}  # fmt: skip


def _metrics() -> dict:
    modes = {"local": _mode(0.6), "federated": _mode(0.6), "personalized": _mode(0.61),
             "no_network": _mode(0.5), "centralized": _mode(0.62),
             "river_hst": _mode(0.2, alarms=9.0, stuck=0.1), "rules_zscore": _mode(0.65)}  # fmt: skip
    data = {"rows_total": 10, "rows_valid": 9, "rows_rejected": {"short_row": 1}, "devices": 2}
    rounds = {"federated": [_round(1), _round(2)], "local": [_round(1, 0)]}
    doc = build_metrics(data, modes, rounds, {"seed": 0, "warmup_fraction": 0.1})
    curve = [{"hours_from": h, "hours_to": h + 3.0, "auc_pr": 0.1 * h / 3} for h in range(0, 24, 3)]
    cold = {"auc_pr_injected_macro": 0.3, "device_auc_pr_injected_macro": {"1": 0.3},
            "curve": curve, "curve_cumulative": curve}  # fmt: skip
    doc["cold_start"] = {"join_time": 0.0, "devices": ["1"], "bin_hours": 3.0,
                         "modes": {"local": cold, "federated": cold | {"auc_pr_injected_macro": 0.5,
                                   "device_auc_pr_injected_macro": {"1": 0.5}}}}  # fmt: skip
    return doc


def test_contract_keys_and_strict_json(tmp_path: Path) -> None:
    """The documented keys exist; NaN becomes null so the file is strict JSON."""
    json_path, md_path = write_report(tmp_path, _metrics(), [tmp_path / "auc_pr.png"])
    doc = json.loads(json_path.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert {"rows_total", "rows_valid", "rows_rejected", "devices"} <= set(doc["data"])
    for mode in ("local", "federated", "personalized", "no_network", "centralized", "river_hst"):
        assert set(doc["modes"][mode]) >= MODE_KEYS
        assert {"auc_pr", "recall"} <= set(doc["modes"][mode]["per_fault_type"]["natural_stuck"])
    assert {"rounds", "bytes_sent", "seconds_per_round"} <= set(doc["federation"])
    assert doc["federation"]["rounds"] == 2
    assert doc["federation"]["bytes_sent"] == 1000
    assert doc["throughput_rows_per_s"] == pytest.approx(9 * 5 / 10.0)  # FLEAD modes only
    assert doc["modes"]["local"]["latency_seconds_median"] is None
    text = md_path.read_text()
    assert "| personalized | 0.610 |" in text
    assert "natural_stuck" in text
    assert "![auc_pr.png](auc_pr.png)" in text
    # the versus-baselines table: per fault type, who each FLEAD mode beats and loses to
    assert "| spike | beats river_hst; loses to rules_zscore |" in text
    assert "| (overall: auc_pr_injected_macro) | beats river_hst; loses to rules_zscore |" in text
    assert "event recall at the operating threshold per fault type" in text
    # the claimed differences of this run, each device 0.11 apart: a zero-width interval
    assert "| personalized - no_network | 0.110 | [0.110, 0.110] | 2 | yes |" in text


def test_federation_summary_of_no_rounds() -> None:
    """No rounds: zeros, no division by zero."""
    assert federation_summary([])["seconds_per_round"] == 0.0


def test_targets_verdicts_and_margins() -> None:
    """Every issue-10 target is checked on the better of federated/personalized; a missed one
    carries how far it is from its bound."""
    modes = _metrics()["modes"]
    cold = {"modes": {"federated": {"auc_pr_injected_macro": 0.5},
                      "local": {"auc_pr_injected_macro": 0.45}}}  # fmt: skip
    t = {x["target"]: x for x in check_targets(modes, cold)}
    best = "best of federated/personalized (personalized)"
    assert t[f"{best} auc_pr_injected_macro >= 0.60"]["margin"] == pytest.approx(0.01)
    by_end = {k.split(") ", 1)[-1]: v for k, v in t.items()}
    assert by_end["spike event recall >= 0.90"]["met"] is True
    assert by_end["alarms_after_fault_end <= 0.05"]["met"] is False
    assert t["no_network auc_pr_injected_macro <= full - 0.05"]["margin"] == pytest.approx(0.06)
    fed_local = t["cold start: federated auc_pr_injected_macro >= local + 0.10"]
    assert fed_local["margin"] == pytest.approx(-0.05)
    assert t["personalized auc_pr_injected_macro > every baseline"]["margin"] == pytest.approx(
        -0.04
    )
    assert by_end["offset event recall >= 0.95"]["met"] is None  # not measured: n/a


def test_rounds_to_reach_95pct_of_the_reference() -> None:
    """The first round whose AUC-PR so far is within 95% of the reference's; None if never."""
    label = np.array([0, 1, 0, 1, 0, 1])
    good = np.array([0, 1, 0, 1, 0, 1], dtype=float)
    curve = cumulative_auc_pr(label, good, [1, 2, 4, 6])
    assert curve[0] is None
    assert curve[1:] == [1.0, 1.0, 1.0]
    assert rounds_to_reach([None, 0.5, 0.96], [0.9, 1.0, 1.0]) == 3
    assert rounds_to_reach([0.1], [1.0]) is None


def test_quality_table_over_seeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two runs' metrics.json: one Markdown row per mode (mean and range), the differences the
    README claims with a bootstrap interval over device x seed, and target verdicts."""
    paths = []
    for seed in (101, 102):
        doc = _metrics()
        doc["run"]["seed"] = seed
        path = tmp_path / f"{seed}.json"
        path.write_text(json.dumps(doc))
        paths.append(str(path))
    assert main(paths) == 0
    text = capsys.readouterr().out
    assert "seeds 101, 102" in text
    assert "| personalized | 0.610 (0.610–0.610) |" in text
    # every device of personalized is 0.11 above no_network: mean 0.11, a zero-width interval
    assert "| personalized - no_network | 0.110 | [0.110, 0.110] | 4 | yes |" in text
    assert "| local - best baseline (rules_zscore) | -0.050 |" in text
    assert "Targets met per run: seed 101:" in text
    assert "| cold start: federated - local | 0.200 | [0.200, 0.200] | 2 | yes |" in text
    assert "| local | 0.000 | 0.100 | 0.200 |" in text  # the cold-start curve, bin by bin
    assert main([]) == 2
    summary = tmp_path / "summary.json"
    assert main(["--plots", str(tmp_path / "plots"), "--json", str(summary), *paths]) == 0
    doc = json.loads(summary.read_text())
    assert doc["seeds"] == [101, 102]
    claimed = {d["name"]: d for d in doc["differences"]}
    assert claimed["personalized - no_network"]["mean"] == pytest.approx(0.11)
    assert (tmp_path / "plots" / "recall_per_fault.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "plots" / "cold_start.png").read_bytes()[:4] == b"\x89PNG"
