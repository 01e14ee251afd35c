"""One way to open the MongoDB (or MongoDB-wire) database every service uses."""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, PyMongoError

__all__ = ["open_database", "transient"]


def open_database(uri: str, database: str, *, timeout_ms: int = 5000) -> Database[dict[str, Any]]:
    """A database handle whose client fails fast (``timeout_ms``) when the server is unreachable."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    return client[database]


def transient(exc: BaseException) -> bool:
    """Whether a MongoDB error is an outage worth waiting out (connection lost, no server,
    a write the server itself labels retryable), not a bug or a rejected document."""
    if isinstance(exc, ConnectionFailure):  # AutoReconnect, NetworkTimeout, ServerSelection...
        return True
    return isinstance(exc, PyMongoError) and exc.has_error_label("RetryableWriteError")
