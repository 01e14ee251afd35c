"""`flead status`: a live summary of a running pipeline (owner: services)."""

from __future__ import annotations


def status() -> None:
    """Print readings/s, anomalies, rounds, global version and consumer lag."""
    raise NotImplementedError
