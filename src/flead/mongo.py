"""One way to open the MongoDB (or MongoDB-wire) database every service uses."""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

__all__ = ["open_database"]


def open_database(uri: str, database: str, *, timeout_ms: int = 5000) -> Database[dict[str, Any]]:
    """A database handle whose client fails fast (``timeout_ms``) when the server is unreachable."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    return client[database]
