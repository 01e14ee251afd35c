"""Entry point of a trainer: `python -m flead_trainer` consumes its partition group until SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from confluent_kafka import KafkaError

from flead.logging import configure_logging, get_logger
from flead.metrics import register_scrape_target
from flead_trainer import metrics as m
from flead_trainer.client import AggregatorClient
from flead_trainer.health import Probes, serve
from flead_trainer.kafka_io import Deliveries, lags_from_stats, make_clients
from flead_trainer.loop import Trainer
from flead_trainer.settings import TrainerSettings, load_settings
from flead_trainer.store import TrainerStore

__all__ = ["main", "run"]

log = get_logger(__name__)


def run(s: TrainerSettings, stop: threading.Event, probes: Probes | None = None) -> Trainer:
    """Build the trainer and loop until `stop`; each batch is already durable when stop is seen."""

    def on_stats(raw: str) -> None:
        for partition, lag in lags_from_stats(raw, s.readings_topic).items():
            m.LAG.labels(str(partition)).set(lag)

    built: list[Trainer] = []

    def on_error(error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN and built:
            built[0].kafka.failed("kafka client", str(error))
        else:
            log.warning("kafka client error", error=str(error))

    deliveries = Deliveries()
    consumer, producer = make_clients(s, on_stats, deliveries, on_error)
    store = TrainerStore(
        s.mongodb_uri,
        s.mongodb_database,
        timeout_ms=round(s.trainer_mongodb_timeout_seconds * 1000),
    )
    client = AggregatorClient(
        s.aggregator_url, s.token, s.trainer_http_timeout_seconds, s.trainer_token_file
    )
    trainer = Trainer(s, consumer, producer, store, client, deliveries=deliveries)
    built.append(trainer)
    probes = probes or Probes(store.ping)
    probes.ready_check = store.ping
    probes.why_not = trainer.not_ready_reason
    try:
        trainer.start()
        probes.assigned = True
        while not stop.is_set():
            trainer.step()
            probes.tick()
        trainer.checkpoint(wait=True)
    finally:
        producer.flush(10)
        consumer.close()
        client.close()
        store.close()
        log.info("stopped", batches=trainer.batches, devices=len(trainer.owner))
    return trainer


def main() -> None:
    """Read settings, serve probes and metrics, run until SIGTERM (exit 0) or a bad setting (exit 2)."""
    s = load_settings()
    configure_logging(s.log_format, s.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        partitions = s.partition_list
    except ValueError as exc:
        log.error("bad settings", error=str(exc))
        sys.exit(2)
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        log.info("finishing the batch, then stopping", signal=signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    probes = Probes(lambda: True)
    serve(s.port, probes)
    register_scrape_target("flead-trainer", s.port, {"group": s.partition_group})
    log.info(
        "trainer starting",
        group=s.partition_group,
        partitions=partitions,
        consumer_group=s.consumer_group,
    )
    run(s, stop, probes)
