"""FLEAD trainer: per-device online models over a Kafka partition group."""
