"""Entry point of the producer: `python -m flead_producer` streams the configured source into Kafka."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

from confluent_kafka import KafkaException
from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flead.logging import configure_logging, get_logger
from flead.metrics import register_scrape_target, serve_metrics
from flead_producer.plan import parse_partition_map
from flead_producer.runner import NotDelivered, Runner
from flead_producer.settings import ProducerSettings, load_settings
from flead_producer.sources import load_readings
from flead_producer.topics import ensure_topics, topic_plan

__all__ = ["main"]

log = get_logger(__name__)


def _log_progress(total: int) -> Callable[[int], None]:
    state = {"at": time.monotonic(), "sent": 0}

    def report(sent: int) -> None:
        now = time.monotonic()
        if now - state["at"] >= 10 or sent >= total:
            rate = (sent - state["sent"]) / max(1e-9, now - state["at"])
            log.info("progress", sent=sent, total=total, readings_per_second=round(rate, 1))
            state.update(at=now, sent=sent)

    return report


def run(s: ProducerSettings, stop: threading.Event) -> int:
    """Load the source and stream it; returns readings sent."""
    overrides = parse_partition_map(s.producer_partition_map, s.readings_partitions)
    readings = load_readings(s)
    total = len(readings) if not s.producer_loop else 0
    if s.producer_max_readings:
        total = min(total, s.producer_max_readings) if total else s.producer_max_readings
    log.info(
        "streaming", rows=len(readings), devices=len(set(readings.device)), topic=s.readings_topic
    )
    if s.producer_create_topics:  # before any client can auto-create them with 1 partition
        created = ensure_topics(s.kafka_bootstrap_servers, topic_plan(s))
        if created:
            log.info("topics created", topics=created)
    runner = Runner(s, overrides, stop=stop)
    if s.producer_progress and sys.stderr.isatty():
        columns = (TextColumn("producing"), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, TextColumn("{task.fields[rate]}")) as bar:
            task = bar.add_task("produce", total=total or None, rate="")
            started = time.monotonic()

            def show(sent: int) -> None:
                rate = sent / max(1e-9, time.monotonic() - started)
                bar.update(task, completed=sent, rate=f"{rate:,.0f} readings/s")

            return runner.run(readings, show)
    return runner.run(readings, _log_progress(total))


def main() -> None:
    """Read settings, serve /metrics, stream until done or SIGTERM (what is queued is flushed
    first); exit 2 on a bad setting or a missing topic, 1 when readings were not delivered."""
    s = load_settings()
    configure_logging(s.log_format, s.log_level)
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        log.info("stopping", signal=signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    serve_metrics(s.port)
    register_scrape_target("flead-producer", s.port)
    try:
        sent = run(s, stop)
    except NotDelivered as exc:
        log.error(str(exc), topic=exc.topic, not_delivered=exc.count)
        sys.exit(1)
    except (ValueError, OSError, KafkaException) as exc:
        log.error("cannot produce", error=str(exc))
        sys.exit(2)
    log.info("done", sent=sent)
