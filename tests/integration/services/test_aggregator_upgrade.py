"""An aggregator upgraded while updates of the earlier store layout are pending aggregates them."""

from __future__ import annotations

import signal

import httpx
import numpy as np
import pytest

from flead.wire import decode_arrays
from flead_aggregator.mongo_store import LEGACY_BLOBS
from tests.integration.services.conftest import Bed, close_last_round, start_aggregator
from tests.integration.services.test_aggregator_recovery import post

pytestmark = pytest.mark.integration

SETTINGS = {"flead_aggregator_min_updates": 3, "flead_aggregator_round_timeout_seconds": 3600}


def _to_earlier_layout(bed: Bed, update_id: str) -> None:
    """Rewrite a pending update as the aggregator before 2026-12-01 stored it: the document in
    `updates` without its weights, the weights in `update_blobs`."""
    with bed.mongo() as client:
        db = client[bed.db]
        doc = db["updates"].find_one({"_id": update_id})
        assert doc is not None
        assert doc["status"] == "pending"
        db[LEGACY_BLOBS].insert_one({"_id": update_id, "blob": doc["blob"]})
        db["updates"].update_one({"_id": update_id}, {"$unset": {"blob": ""}})


def test_pending_updates_of_the_earlier_layout_survive_the_upgrade(bed: Bed) -> None:
    """Two updates pending when the aggregator stops, one of them stored in the earlier layout:
    the restarted aggregator lists both as pending, a third closes the round with all three in
    one version carrying their samples, and the earlier layout's weights are deleted with it."""
    url, proc = start_aggregator(bed, **SETTINGS)
    base, _ = decode_arrays(httpx.get(f"{url}/api/global-model").content)
    step = [w + np.float32(0.01) for w in base]
    assert post(url, "a", step) == 202
    assert post(url, "b", step) == 202
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    _to_earlier_layout(bed, "a")

    url, proc = start_aggregator(bed, **SETTINGS)
    assert httpx.get(f"{url}/api/status").json()["pending_updates"] == 2
    assert post(url, "c", step) == 202
    latest = httpx.get(f"{url}/api/history").json()[0]
    assert latest["lineage"]["update_ids"] == ["a", "b", "c"]
    assert latest["lineage"]["samples"] == 30
    assert close_last_round(bed, url)["accepted"] == 3
    with bed.mongo() as client:
        assert client[bed.db][LEGACY_BLOBS].count_documents({}) == 0
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
