"""Entry point of the aggregator: `python -m flead_aggregator` serves the API with uvicorn."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from flead.logging import configure_logging, get_logger
from flead.metrics import register_scrape_target
from flead_aggregator.app import create_app
from flead_aggregator.settings import load_settings

__all__ = ["main"]


class Server(uvicorn.Server):
    """uvicorn that finishes in-flight requests on SIGTERM/SIGINT and then exits 0."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Request a graceful exit instead of re-raising the signal afterwards."""

        def stop(_: int, __: FrameType | None) -> None:
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def main() -> None:
    """Read FLEAD_* settings, configure logging and serve until SIGTERM (exit 0)."""
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
    config = uvicorn.Config(
        create_app(settings),
        host=settings.aggregator_host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    Server(config).run()
