"""The coordinator on an in-memory store: restart re-queues accepted updates, async FedBuff moves."""

from __future__ import annotations

import numpy as np
import pytest

from flead_aggregator.codec import ParsedUpdate
from flead_aggregator.coordinator import Coordinator
from flead_aggregator.settings import load_settings
from flead_aggregator.store import MemoryStore
from tests.unit.services.aggregator.helpers import initial, weights

pytestmark = pytest.mark.unit


def update(uid: str, value: float = 0.2, base: int = 0) -> ParsedUpdate:
    """A valid parsed update."""
    return ParsedUpdate(uid, "d" + uid, 10, base, weights(value))


def test_restart_requeues_pending_updates() -> None:
    """Updates accepted before a restart are pending after it and complete the round."""
    store = MemoryStore()
    s = load_settings(aggregator_min_updates=3, aggregator_round_timeout_seconds=3600)
    first = Coordinator(store, s, initial)
    first.start()
    first.submit(update("a"))
    first.submit(update("b"))
    second = Coordinator(store, s, initial)  # the old one is gone: only the store remains
    second.start()
    assert second.status()["pending_updates"] == 2
    second.submit(update("c"))
    assert second.current.version == 1
    assert second.current.lineage["update_ids"] == ["a", "b", "c"]


def test_restart_after_publish_before_marking() -> None:
    """A crash between storing a version and marking its updates does not aggregate them twice."""
    store = MemoryStore()
    s = load_settings(aggregator_min_updates=2)
    c = Coordinator(store, s, initial)
    c.start()
    c.submit(update("a"))
    c.submit(update("b"))
    for uid in ("a", "b"):  # simulate the lost mark_aggregated
        record, _ = store.updates[uid]
        store.updates[uid] = (record, None)
    again = Coordinator(store, s, initial)
    again.start()
    assert again.status()["pending_updates"] == 0


def test_async_fedbuff_moves_after_buffer_size() -> None:
    """Async policy: the global model moves once buffer_size updates arrived, by their mean step."""
    s = load_settings(aggregator_policy="async", aggregator_buffer_size=2)
    c = Coordinator(MemoryStore(), s, initial)
    c.start()
    c.submit(update("a", 0.2))
    assert c.current.version == 0
    c.submit(update("b", 0.4))
    assert c.current.version == 1
    np.testing.assert_allclose(c.current.weights[0], 0.3, rtol=1e-5)


def test_timer_closes_a_small_round() -> None:
    """With fewer than min_updates, tick() closes the round once the timeout passed."""
    now = [1000.0]
    s = load_settings(aggregator_min_updates=5, aggregator_round_timeout_seconds=10)
    c = Coordinator(MemoryStore(), s, initial, clock=lambda: now[0])
    c.start()
    c.submit(update("a"))
    assert c.tick() is None
    now[0] += 11
    assert c.tick() == 1
