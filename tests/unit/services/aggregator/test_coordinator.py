"""The coordinator on an in-memory store: restart replays accepted updates, async FedBuff moves."""

from __future__ import annotations

import numpy as np
import pytest

from flead.federation import Update
from flead_aggregator.coordinator import Coordinator
from flead_aggregator.settings import load_settings
from flead_aggregator.store import MemoryStore
from tests.unit.services.aggregator.helpers import SPEC, weights, zero_store

pytestmark = pytest.mark.unit


def update(uid: str, value: float = 0.2, base: int = 0) -> Update:
    """A valid update."""
    return Update(uid, "d" + uid, 10, base, weights(value))


def started(store: MemoryStore, **settings: object) -> Coordinator:
    """A started coordinator on `store`."""
    c = Coordinator(store, load_settings(**settings), SPEC)
    c.start()
    return c


def test_restart_replays_pending_updates() -> None:
    """Updates accepted before a restart are pending after it and complete the round."""
    store = zero_store()
    s = {"aggregator_min_updates": 3, "aggregator_round_timeout_seconds": 3600}
    first = started(store, **s)
    first.submit(update("a"))
    first.submit(update("b"))
    second = started(store, **s)  # the old one is gone: only the store remains
    assert second.status()["pending_updates"] == 2
    second.submit(update("c"))
    assert second.current.version == 1
    assert second.current.model.lineage.update_ids == ("a", "b", "c")
    assert store.get_model(1) is not None


def test_restart_after_publish_before_marking() -> None:
    """A crash between storing a version and marking its updates does not aggregate them twice."""
    store = zero_store()
    c = started(store, aggregator_min_updates=2)
    c.submit(update("a"))
    c.submit(update("b"))
    for uid in ("a", "b"):  # simulate the lost mark_aggregated
        record, _ = store.updates[uid]
        store.updates[uid] = (record, None)
    again = started(store, aggregator_min_updates=2)
    assert again.status()["pending_updates"] == 0


def test_a_duplicate_is_refused_before_and_after_the_round() -> None:
    """The same id is a duplicate while pending and after it was aggregated (from the store)."""
    c = started(zero_store(), aggregator_min_updates=2)
    assert c.submit(update("a"))[0] == "accepted"
    assert c.submit(update("a"))[0] == "duplicate"
    c.submit(update("b"))
    assert c.current.version == 1
    assert c.submit(update("a"))[0] == "duplicate"


def test_async_fedbuff_moves_after_buffer_size() -> None:
    """Async policy: the global model moves once buffer_size updates arrived, by their mean step."""
    c = started(zero_store(), aggregator_policy="async", aggregator_buffer_size=2)
    c.submit(update("a", 0.2))
    assert c.current.version == 0
    c.submit(update("b", 0.4))
    assert c.current.version == 1
    np.testing.assert_allclose(c.current.weights[0], 0.3, rtol=1e-5)
    assert c.status()["rule"] == "fedbuff"


def test_timer_closes_a_small_round() -> None:
    """With fewer than min_updates, tick() closes the round once the timeout passed."""
    now = [1000.0]
    s = load_settings(aggregator_min_updates=5, aggregator_round_timeout_seconds=10)
    c = Coordinator(zero_store(), s, SPEC, clock=lambda: now[0])
    c.start()
    c.submit(update("a"))
    assert c.tick() is None
    now[0] += 11
    assert c.tick() == 1


def test_robust_rule_asks_for_per_device_updates() -> None:
    """A median round serves granularity per_device; FedAvg serves partial."""
    assert started(zero_store()).served().granularity.value == "partial"
    robust = started(zero_store(), aggregator_rule="median")
    assert robust.served().granularity.value == "per_device"
    assert robust.status()["granularity"] == "per_device"


def test_a_fresh_registry_starts_from_the_specs_version_0() -> None:
    """On an empty store version 0 is the spec's seeded initial tensors."""
    c = started(MemoryStore())
    for a, b in zip(c.current.weights, SPEC.initial_tensors(), strict=True):
        np.testing.assert_array_equal(a, b)
