"""The trainer's HTTP client reads a refusal's Retry-After (seconds) and nothing else."""

from __future__ import annotations

import httpx
import pytest

from flead_trainer.client import retry_after_seconds

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        (503, "5", 5.0),
        (429, "0.5", 0.5),
        (503, "Wed, 21 Oct 2026 07:28:00 GMT", None),  # the date form is not followed
        (503, "-3", None),
        (503, None, None),
        (500, "5", None),  # only 429 and 503 carry a retry hint
        (202, "5", None),
    ],
)
def test_retry_after_seconds(status: int, header: str | None, expected: float | None) -> None:
    """Proves which answers yield a wait: the delay form on 429/503 only."""
    headers = {"Retry-After": header} if header is not None else {}
    assert retry_after_seconds(httpx.Response(status, headers=headers)) == expected
