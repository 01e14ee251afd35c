"""FLEAD producer: streams sensor readings into Kafka."""
