"""Smoke test: the bed's MongoDB-wire server (FerretDB, SQLite backend) works with pymongo."""

import os

import pytest
from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.errors import DuplicateKeyError

from tests.support.testbed import unique

pytestmark = pytest.mark.integration


def test_mongodb_insert_find_update_index_and_binary_blob() -> None:
    """Proves CRUD, a unique compound index that is enforced, and a 1 MiB binary round trip.

    Inserts documents, finds them with a filter and sort, updates one with $set/$inc,
    creates a unique index (a duplicate is then refused) and stores model weights as
    BSON binary that read back byte for byte.
    """
    client: MongoClient = MongoClient(os.environ["MONGODB_URI"], serverSelectionTimeoutMS=15000)
    db = client[unique("smoke").replace("-", "_")]
    try:
        readings = db["readings"]
        readings.insert_many(
            [{"device": f"d{i % 3}", "time": float(i), "value": i * 1.5} for i in range(9)]
        )
        found = list(readings.find({"device": "d1"}, {"_id": 0}).sort("time", DESCENDING))
        assert [d["time"] for d in found] == [7.0, 4.0, 1.0]

        result = readings.update_one(
            {"device": "d1", "time": 4.0}, {"$set": {"label": 1}, "$inc": {"value": 10}}
        )
        assert result.modified_count == 1
        assert readings.find_one({"device": "d1", "time": 4.0})["value"] == pytest.approx(16.0)
        assert readings.count_documents({"label": 1}) == 1

        name = readings.create_index([("device", ASCENDING), ("time", DESCENDING)], unique=True)
        assert name in readings.index_information()
        with pytest.raises(DuplicateKeyError):
            readings.insert_one({"device": "d1", "time": 4.0, "value": 0.0})

        blob = os.urandom(1 << 20)
        models = db["models"]
        models.insert_one({"_id": "global-v1", "version": 1, "weights": Binary(blob)})
        back = models.find_one({"_id": "global-v1"})
        assert back is not None
        assert bytes(back["weights"]) == blob
    finally:
        client.drop_database(db.name)
        client.close()
