"""Prometheus helpers shared by the services: serving /metrics and registering with the test bed."""

from __future__ import annotations

import json
import os
from pathlib import Path

from prometheus_client import Counter, Gauge, start_http_server

__all__ = ["DEPENDENCY_RETRIES", "DEPENDENCY_UP", "register_scrape_target", "serve_metrics"]

DEPENDENCY_UP = Gauge(
    "flead_dependency_up",
    "1 while a dependency (mongodb, aggregator, kafka) answers, 0 from a failed call until it "
    "answers again",
    ["dependency"],
)
DEPENDENCY_RETRIES = Counter(
    "flead_dependency_retries",
    "Calls to a dependency retried after a transient failure (backoff, then again)",
    ["dependency"],
)


def serve_metrics(port: int, addr: str = "0.0.0.0") -> None:
    """Serve the default registry on http://addr:port/metrics in a daemon thread."""
    start_http_server(port, addr=addr)


def register_scrape_target(
    job: str, port: int, labels: dict[str, str] | None = None
) -> Path | None:
    """Write a file_sd target for the test bed's Prometheus when PROMETHEUS_TARGETS_DIR is set."""
    folder = os.environ.get("PROMETHEUS_TARGETS_DIR")
    if not folder:
        return None
    path = Path(folder) / f"{job}-{port}.json"
    entry = [{"targets": [f"127.0.0.1:{port}"], "labels": {"job": job, **(labels or {})}}]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entry))
    tmp.replace(path)
    return path
