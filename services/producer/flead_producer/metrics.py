"""Prometheus metrics of the producer, named as in docs/interfaces.md."""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["DELIVERY_ERRORS", "LABELS", "PRODUCED"]

PRODUCED = Counter("flead_readings_produced", "Readings acknowledged by Kafka")
DELIVERY_ERRORS = Counter("flead_producer_delivery_errors", "Records Kafka failed to deliver")
LABELS = Counter("flead_labels_produced", "Ground-truth labels sent, by fault type", ["fault"])
