"""Prometheus metrics of the operator (names fixed in docs/interfaces.md)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["VERBS", "OperatorMetrics"]

VERBS = ("apply", "patch", "delete")  # the writes kube.py makes


class OperatorMetrics:
    """The operator's metric objects, registered on one registry (the default one in production)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else REGISTRY
        self.reconcile_duration = Histogram(
            "flead_operator_reconcile_duration_seconds",
            "Time to reconcile one namespace (plan plus API calls)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=reg,
        )
        self.reconcile_errors = Counter(
            "flead_operator_reconcile_errors_total",
            "Namespace reconciles that failed and were retried",
            registry=reg,
        )
        self.devices = Gauge("flead_operator_devices", "FederatedDevices known", registry=reg)
        self.devices_ready = Gauge(
            "flead_operator_devices_ready",
            "FederatedDevices whose Ready condition is True",
            registry=reg,
        )
        self.groups = Gauge("flead_operator_groups", "Partition groups wanted", registry=reg)
        self.trainers = Gauge(
            "flead_operator_trainers", "Trainer Deployments observed", registry=reg
        )
        self.api_requests = Counter(
            "flead_operator_api_requests_total",
            "Kubernetes API requests the reconciler made (kopf's watch streams not included)",
            ["verb"],
            registry=reg,
        )
        for (
            verb
        ) in VERBS:  # every series exists from the start, so rate() works before a first write
            self.api_requests.labels(verb=verb)
