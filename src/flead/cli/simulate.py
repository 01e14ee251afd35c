"""`flead simulate`: the whole engine in one process (owner: model)."""

from __future__ import annotations


def simulate() -> None:
    """Stream data through per-device models and an in-process aggregator, then report."""
    raise NotImplementedError
