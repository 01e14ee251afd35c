"""Create FLEAD's topics if missing: `python -m flead_producer.topics` (used by `make up` and tests)."""

from __future__ import annotations

import sys

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from flead.settings import KafkaSettings

__all__ = ["ensure_topics", "topic_plan"]


def topic_plan(s: KafkaSettings) -> dict[str, int]:
    """Topic -> partitions: readings and labels share the partitioning, the rest are small."""
    return {
        s.readings_topic: s.readings_partitions,
        s.labels_topic: s.readings_partitions,
        s.anomalies_topic: 3,
        s.dead_letter_topic: 1,
    }


def ensure_topics(bootstrap: str, plan: dict[str, int], timeout: float = 30.0) -> list[str]:
    """Create missing topics and grow ones with too few partitions; returns those created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=timeout).topics
    wanted = [NewTopic(t, n, 1) for t, n in plan.items() if t not in existing]
    grow = [
        NewPartitions(t, n)
        for t, n in plan.items()
        if t in existing and len(existing[t].partitions) < n
    ]
    for topic, future in (admin.create_partitions(grow) if grow else {}).items():
        future.result(timeout)
        print(f"topic {topic}: grown to {dict(plan)[topic]} partitions", file=sys.stderr)
    created = []
    for topic, future in (admin.create_topics(wanted) if wanted else {}).items():
        try:
            future.result(timeout)
            created.append(topic)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    return created


def main() -> None:
    """Create the topics named by the FLEAD_* settings."""
    s = KafkaSettings(**{})
    created = ensure_topics(s.kafka_bootstrap_servers, topic_plan(s))
    print(f"topics created: {', '.join(created) or 'none (all exist)'}", file=sys.stderr)


if __name__ == "__main__":
    main()
