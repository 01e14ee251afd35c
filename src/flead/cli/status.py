"""`flead status`: a live summary of a running pipeline (owner: services)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

__all__ = ["QUERIES", "parse_totals", "scrape_targets", "status", "summarize"]

# name in the summary -> (PromQL, metric summed when scraping the targets directly)
QUERIES: dict[str, tuple[str, str]] = {
    "produced_per_second": (
        "sum(rate(flead_readings_produced_total[1m]))",
        "flead_readings_produced_total",
    ),
    "consumed_per_second": (
        "sum(rate(flead_readings_consumed_total[1m]))",
        "flead_readings_consumed_total",
    ),
    "anomalies": ("sum(flead_anomalies_total)", "flead_anomalies_total"),
    "dead_letters": ("sum(flead_dead_letters_total)", "flead_dead_letters_total"),
    "consumer_lag": ("sum(flead_consumer_lag_messages)", "flead_consumer_lag_messages"),
    "rounds": ("sum(flead_rounds_completed_total)", "flead_rounds_completed_total"),
    "updates_sent": ("sum(flead_local_updates_sent_total)", "flead_local_updates_sent_total"),
}
RATES = {"produced_per_second", "consumed_per_second"}


def parse_totals(text: str) -> dict[str, float]:
    """Sum every sample of each metric in a Prometheus text exposition (labels dropped)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name] = out.get(sample.name, 0.0) + float(sample.value)
    return out


def scrape_targets(folder: str | None) -> list[str]:
    """/metrics URLs of the flead-* file_sd targets registered with the bed's Prometheus."""
    if not folder or not Path(folder).is_dir():
        return []
    urls = []
    for path in sorted(Path(folder).glob("flead-*.json")):
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        urls += [f"http://{t}/metrics" for e in entries for t in e.get("targets", [])]
    return urls


def summarize(
    first: dict[str, float], second: dict[str, float], seconds: float
) -> dict[str, float]:
    """The summary from two direct scrapes `seconds` apart (rates from counter differences)."""
    out = {}
    for name, (_, metric) in QUERIES.items():
        if name in RATES:
            out[name] = max(0.0, second.get(metric, 0.0) - first.get(metric, 0.0)) / max(
                seconds, 1e-9
            )
        else:
            out[name] = second.get(metric, 0.0)
    return out


def _prometheus(client: httpx.Client, url: str) -> dict[str, float] | None:
    out = {}
    try:
        for name, (query, _) in QUERIES.items():
            r = client.get(f"{url}/api/v1/query", params={"query": query})
            result = r.json()["data"]["result"]
            out[name] = float(result[0]["value"][1]) if result else 0.0
    except (httpx.HTTPError, KeyError, ValueError):
        return None
    return out


def _scrape(client: httpx.Client, urls: list[str]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for url in urls:
        try:
            for k, v in parse_totals(client.get(url).text).items():
                totals[k] = totals.get(k, 0.0) + v
        except httpx.HTTPError:
            continue
    return totals


def _collect(
    client: httpx.Client, aggregator: str, prometheus: str
) -> tuple[dict[str, Any], dict[str, float], str]:
    try:
        agg = client.get(f"{aggregator}/api/status").json()
    except (httpx.HTTPError, ValueError) as exc:
        agg = {"error": f"aggregator unreachable at {aggregator}: {type(exc).__name__}"}
    pipeline = _prometheus(client, prometheus)
    source = f"Prometheus {prometheus}"
    if pipeline is None:
        urls = scrape_targets(os.environ.get("PROMETHEUS_TARGETS_DIR"))
        first = _scrape(client, urls)
        time.sleep(2.0)
        pipeline = summarize(first, _scrape(client, urls), 2.0)
        source = f"{len(urls)} scrape targets"
    return agg, pipeline, source


def _render(console: Console, agg: dict[str, Any], pipeline: dict[str, float], source: str) -> None:
    table = Table(title="FLEAD pipeline", show_header=False)
    if "error" in agg:
        table.add_row("aggregator", f"[red]{agg['error']}[/red]")
    else:
        table.add_row("global version", str(agg.get("global_version")))
        table.add_row("policy / rule", f"{agg.get('policy')} / {agg.get('rule')}")
        table.add_row("pending updates", str(agg.get("pending_updates")))
    for name, value in pipeline.items():
        shown = f"{value:,.1f}" if name in RATES else f"{value:,.0f}"
        table.add_row(name.replace("_", " "), shown)
    table.caption = f"metrics from {source}"
    console.print(table)


def status(
    url: Annotated[
        str, typer.Option(envvar="FLEAD_AGGREGATOR_URL", help="aggregator base URL")
    ] = "http://127.0.0.1:8000",
    prometheus: Annotated[
        str, typer.Option(envvar="PROMETHEUS_URL", help="Prometheus base URL")
    ] = "http://127.0.0.1:9090",
    watch: Annotated[float, typer.Option(min=0, help="refresh every N seconds; 0 = once")] = 0.0,
) -> None:
    """Print readings/s, anomalies, rounds, global version and consumer lag."""
    console = Console()
    with httpx.Client(timeout=3.0) as client:
        while True:
            agg, pipeline, source = _collect(client, url.rstrip("/"), prometheus.rstrip("/"))
            _render(console, agg, pipeline, source)
            if not watch:
                return
            time.sleep(watch)
