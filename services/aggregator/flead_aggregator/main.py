"""Entry point of the aggregator: `python -m flead_aggregator` serves the API with uvicorn."""

from __future__ import annotations

import uvicorn

from flead.logging import configure_logging, get_logger
from flead.metrics import register_scrape_target
from flead_aggregator.app import create_app
from flead_aggregator.settings import load_settings

__all__ = ["main"]


def main() -> None:
    """Read FLEAD_* settings, configure logging and serve until SIGTERM."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    port = settings.metrics_port or settings.aggregator_port
    get_logger(__name__).info(
        "aggregator starting",
        port=port,
        policy=settings.aggregator_policy,
        rule=settings.aggregator_rule,
        writes="enabled" if settings.token else "refused (no token)",
    )
    register_scrape_target("flead-aggregator", port)
    uvicorn.run(
        create_app(settings),
        host=settings.aggregator_host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
