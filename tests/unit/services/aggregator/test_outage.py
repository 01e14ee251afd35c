"""The aggregator with its store down: writes 503 (never acknowledged), reads from memory, recovery."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from flead.federation import Update
from flead_aggregator.coordinator import Coordinator, Unavailable
from flead_aggregator.settings import load_settings
from flead_aggregator.store import MemoryStore, ModelRecord, StoreUnavailable
from tests.unit.services.aggregator.helpers import SPEC, auth, blob, make_app, weights, zero_store

pytestmark = pytest.mark.unit

ROUND = {"aggregator_min_updates": 2, "aggregator_round_timeout_seconds": 3600}


class LostReply(MemoryStore):
    """A store whose next `put_updates` / `put_model` lands and then loses its reply (the server
    went away after writing): the caller sees StoreUnavailable although the write is durable."""

    def __init__(self, base: MemoryStore) -> None:
        super().__init__()
        self.models, self.updates, self.pointer = base.models, base.updates, base.pointer
        self.lose_update = self.lose_model = False

    def put_updates(self, updates: Sequence[Update]) -> list[bool]:
        """Store, then maybe lose the reply (and go down)."""
        out = super().put_updates(updates)
        if self.lose_update:
            self.lose_update, self.down = False, True
            raise StoreUnavailable("reply lost")
        return out

    def put_model(self, record: ModelRecord) -> None:
        """Store, then maybe lose the reply (and go down)."""
        super().put_model(record)
        if self.lose_model:
            self.lose_model, self.down = False, True
            raise StoreUnavailable("reply lost")


def update(uid: str, value: float = 0.2) -> Update:
    """A valid update against version 0."""
    return Update(uid, "d" + uid, 10, 0, weights(value))


def started(store: MemoryStore, **settings: Any) -> Coordinator:
    """A started coordinator on `store` with rounds of two updates."""
    c = Coordinator(store, load_settings(**(ROUND | settings)), SPEC)
    c.start()
    return c


def in_versions(store: MemoryStore) -> list[str]:
    """Every update id of every stored version's lineage, with repeats."""
    return [uid for rec in store.models.values() for uid in rec.model.lineage.update_ids]


def test_store_down_refuses_writes_serves_reads_and_recovers() -> None:
    """Down: submit raises Unavailable and stores nothing, the current model is still served.
    Up again: recover() reloads, and the same update is accepted and aggregated once."""
    store = zero_store()
    c = started(store)
    assert c.submit(update("a"))[0] == "accepted"
    store.down = True
    with pytest.raises(Unavailable):
        c.submit(update("b"))
    assert c.down_reason is not None
    assert "mongodb" in c.down_reason
    with pytest.raises(Unavailable):  # known down: refused at once, without trying the store
        c.submit(update("c"))
    assert "b" not in store.updates
    assert "c" not in store.updates
    assert c.served().version == 0
    assert c.status()["pending_updates"] == 1
    assert c.tick() is None
    assert c.recover() is False  # still down
    store.down = False
    assert c.recover() is True
    assert c.down_reason is None
    assert c.submit(update("b"))[0] == "accepted"
    assert c.current.version == 1
    assert in_versions(store) == ["a", "b"]


def test_a_write_that_landed_before_its_reply_was_lost_counts_once() -> None:
    """put_updates lands, its reply is lost (503 to the sender); after the outage the sender's
    resend is a duplicate, and the update is in exactly one version (reloaded from the store)."""
    store = LostReply(zero_store())
    c = started(store)
    store.lose_update = True
    with pytest.raises(Unavailable):
        c.submit(update("a"))
    store.down = False
    assert c.recover() is True
    assert c.status()["pending_updates"] == 1  # the landed update, re-queued from the store
    assert c.submit(update("a"))[0] == "duplicate"
    assert c.submit(update("b"))[0] == "accepted"
    assert in_versions(store) == ["a", "b"]


def test_a_version_whose_write_was_lost_is_published_once() -> None:
    """put_model lands but its reply is lost: the round is not served from memory; the reload
    finds the stored version, marks its updates, and no update is aggregated twice."""
    store = LostReply(zero_store())
    c = started(store)
    c.submit(update("a"))
    store.lose_model = True
    assert c.submit(update("b"))[0] == "accepted"  # durable; the round failed to be stored
    assert c.current.version == 0
    assert c.down_reason is not None
    store.down = False
    assert c.recover() is True
    assert c.current.version == 1
    assert c.status()["pending_updates"] == 0
    c.submit(update("c"))
    c.submit(update("d"))
    assert sorted(in_versions(store)) == ["a", "b", "c", "d"]


def test_a_version_write_that_failed_is_retried_after_the_reload() -> None:
    """put_model fails before landing: the reload re-queues the round's updates and closes it."""
    store = zero_store()
    c = started(store)
    c.submit(update("a"))
    original = store.put_model

    def failing(record: ModelRecord) -> None:
        store.down = True
        raise StoreUnavailable("no server")

    store.put_model = failing  # type: ignore[method-assign]
    c.submit(update("b"))
    assert c.current.version == 0
    store.put_model = original  # type: ignore[method-assign]
    store.down = False
    assert c.recover() is True
    assert c.current.version == 1
    assert in_versions(store) == ["a", "b"]
    np.testing.assert_allclose(c.current.weights[0], 0.2, rtol=1e-6)


def test_http_503_with_retry_after_and_readyz_reason() -> None:
    """Over HTTP: a write while the store is down is 503 with Retry-After and the reason, the
    global model is still served (200, from memory), /readyz is 503 naming mongodb; after the
    store answers the rounds thread reloads and the write is accepted."""
    app, store = make_app()
    with TestClient(app) as client:
        for _ in range(100):
            if client.get("/readyz").status_code == 200:
                break
        store.down = True
        r = client.post("/api/local-update", content=blob(), headers=auth("u1"))
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) > 0
        assert r.json()["detail"]["reason"] == "store_unavailable"
        assert client.get("/api/global-model").status_code == 200
        assert client.get("/api/status").status_code == 200
        assert client.get("/api/history").status_code == 503
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "mongodb" in ready.json()["reason"]
        metrics = client.get("/metrics").text
        assert 'flead_dependency_up{dependency="mongodb"} 0.0' in metrics
        store.down = False
        for _ in range(100):  # the rounds thread tries to recover once a second
            if client.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        assert client.get("/readyz").status_code == 200
        r = client.post("/api/local-update", content=blob(), headers=auth("u1"))
        assert r.status_code == 202, r.text


def test_an_update_stored_while_a_reload_ran_is_folded_in_once() -> None:
    """A reload from the store (after an outage) runs between an update's write and its fold:
    the reload may or may not have seen it, so it is not folded in by the request; the next
    reload folds it in, and it ends up in exactly one version."""
    store = zero_store()
    c = started(store)

    original = store.put_updates

    def put_then_reload(updates: Sequence[Update]) -> list[bool]:
        out = original(updates)
        c.start()  # what the rounds thread's recover() does after an outage
        return out

    store.put_updates = put_then_reload  # type: ignore[method-assign]
    assert c.submit(update("a"))[0] == "accepted"
    assert c.down_reason is not None  # refuses writes until the next reload
    store.put_updates = original  # type: ignore[method-assign]
    assert c.recover() is True
    assert c.status()["pending_updates"] == 1
    c.submit(update("b"))
    assert in_versions(store) == ["a", "b"]
