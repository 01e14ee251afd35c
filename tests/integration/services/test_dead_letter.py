"""Malformed readings are dead-lettered with their reason and counted; the trainer keeps going."""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from confluent_kafka import Consumer, Producer

from flead.wire import encode_reading
from tests.integration.services.conftest import Bed, free_port, metric_value, result_rows
from tests.support.testbed import wait_until

pytestmark = pytest.mark.integration

BAD = {
    b"{not json": "bad_json",
    b'{"device": "5", "values": {}}': "missing_field:time",
    b'{"device": "5", "time": "noon", "values": {}}': "wrong_type:time",
    b'{"device": "5", "time": 1.0, "values": {"temperature": NaN}}': "non_finite:temperature",
    b'{"device": 5.5, "time": 1.0, "values": {}}': "wrong_type:device",
    b'{"device": "5", "time": 1.0, "values": {"temperature": 1e300}}': "non_finite:temperature",
}


def test_malformed_readings_dead_lettered(bed: Bed) -> None:
    """Bad JSON, a missing field, wrong types and NaN go to the dead-letter topic with reasons."""
    bed.create_topics(1)
    producer = Producer({"bootstrap.servers": bed.bootstrap})
    good = 0
    for i in range(200):
        value = encode_reading(
            "5", 1_000_000.0 + 31 * i, {"temperature": 20.0 + i % 3, "humidity": 40.0}
        )
        producer.produce(bed.topic("readings"), value, b"5", partition=0)
        good += 1
        if i % 40 == 0:
            for raw in BAD:
                producer.produce(bed.topic("readings"), raw, b"5", partition=0)
    assert producer.flush(30) == 0
    port = free_port()
    trainer = bed.start_trainer("trainer", port)
    wait_until("all good readings processed", lambda: len(result_rows(bed)) == good, timeout=90)

    consumer = Consumer(
        {
            "bootstrap.servers": bed.bootstrap,
            "group.id": bed.prefix + "-dlq",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([bed.topic("dead-letter")])
    seen: list[tuple[bytes, str]] = []
    expected = 5 * len(BAD)

    def drain() -> bool:
        for msg in consumer.consume(100, 1.0):
            if msg.error() is None:
                headers = dict(msg.headers() or [])
                seen.append((msg.value(), headers["flead-reason"].decode()))
        return len(seen) >= expected

    wait_until("dead letters", drain, timeout=60)
    consumer.close()
    assert Counter(seen) == Counter(dict.fromkeys(BAD.items(), 5))
    metrics = f"http://127.0.0.1:{port}/metrics"
    assert metric_value(metrics, 'flead_dead_letters_total{reason="wrong_type"}') == 10
    assert metric_value(metrics, 'flead_dead_letters_total{reason="bad_json"}') == 5
    assert metric_value(metrics, "flead_readings_consumed_total") == good
    trainer.send_signal(signal.SIGTERM)
    assert trainer.wait(30) == 0
