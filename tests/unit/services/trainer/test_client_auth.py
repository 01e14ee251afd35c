"""The trainer's bearer token: fixed, or re-read from its (rotated) file before every request."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from flead_trainer.client import AggregatorClient, BearerToken

pytestmark = pytest.mark.unit


def _seen(client: AggregatorClient) -> list[str | None]:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(304)

    client.http._transport = httpx.MockTransport(handler)
    return seen


def test_a_rotated_token_file_is_read_before_each_request(tmp_path: Path) -> None:
    """The kubelet replaces the projected token in place: the next request carries the new one."""
    token = tmp_path / "token"
    token.write_text("first\n")
    client = AggregatorClient("http://aggregator", "static", token_file=str(token))
    seen = _seen(client)
    client.fetch(1)
    token.write_text("second")
    client.fetch(1)
    assert seen == ["Bearer first", "Bearer second"]


def test_without_a_file_the_static_token_is_sent() -> None:
    """FLEAD_TRAINER_TOKEN_FILE empty: FLEAD_AGGREGATOR_TOKEN, or no header at all."""
    assert BearerToken("s3cret").current() == "s3cret"
    client = AggregatorClient("http://aggregator", None)
    seen = _seen(client)
    client.fetch(1)
    assert seen == [None]


def test_an_unreadable_file_sends_no_token(tmp_path: Path) -> None:
    """A missing file (not mounted yet) means no header, never the static token instead."""
    auth = BearerToken("static", str(tmp_path / "absent"))
    assert auth.current() is None
    (tmp_path / "absent").write_text("late")
    assert auth.current() == "late"
