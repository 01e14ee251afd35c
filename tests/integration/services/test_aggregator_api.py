"""The aggregator as a real process on FerretDB: auth, 422 reasons, idempotency, schemathesis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from flead.data.records import CHANNELS
from flead.federation import Granularity, ModelVersion, Update, bundle_blob
from flead.model import ModelSpec
from flead.wire import decode_arrays, encode_arrays
from tests.integration.services.conftest import TOKEN, Bed, free_port, start_aggregator

pytestmark = pytest.mark.integration

WRITE = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module")
def server(
    read_testbed_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Bed, str]]:
    """One aggregator (rounds of 100, so nothing aggregates behind the tests' backs)."""
    b = Bed(Path(tmp_path_factory.mktemp("aggregator")))
    url, _ = start_aggregator(
        b,
        flead_aggregator_min_updates=100,
        flead_aggregator_round_timeout_seconds=3600,
        flead_aggregator_max_norm=50,
        flead_aggregator_max_staleness=2,
    )
    yield b, url
    b.cleanup()


def body(w: list[np.ndarray] | None = None, base: int = 0, samples: int = 5) -> bytes:
    """A binary update whose arrays have the global model's shapes unless `w` is given."""
    return encode_arrays(
        w if w is not None else shapes_like(0.01),
        {"device": "7", "samples": samples, "base_version": base},
    )


_SHAPES: list[tuple[int, ...]] = []


def shapes_like(value: float) -> list[np.ndarray]:
    """Arrays of the served model's shapes filled with value."""
    return [np.full(s, value, np.float32) for s in _SHAPES]


@pytest.fixture(autouse=True)
def _shapes(server: tuple[Bed, str]) -> None:
    if not _SHAPES:
        arrays, _ = decode_arrays(httpx.get(f"{server[1]}/api/global-model").content)
        _SHAPES.extend(a.shape for a in arrays)


def test_auth_401_and_403(server: tuple[Bed, str]) -> None:
    """No token: 401. Wrong token: 403. Both on every write endpoint."""
    _, url = server
    for path in ("/api/local-update", "/api/aggregate", "/api/global-model/rollback"):
        assert httpx.post(f"{url}{path}", content=b"").status_code == 401
        assert (
            httpx.post(
                f"{url}{path}", content=b"", headers={"Authorization": "Bearer wrong"}
            ).status_code
            == 403
        )


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda: body([np.full(a.shape, np.nan, np.float32) for a in shapes_like(0)]),
            "non_finite",
        ),
        (lambda: body([np.zeros((1, 1), np.float32)]), "shape"),
        (lambda: body(shapes_like(100.0)), "norm"),
        (lambda: body(base=5), "stale"),
    ],
)
def test_bad_updates_are_422_with_reason(server: tuple[Bed, str], make, reason: str) -> None:  # type: ignore[no-untyped-def]
    """NaN, wrong shape, excessive norm, a base version from the future: 422 naming the reason."""
    _, url = server
    r = httpx.post(
        f"{url}/api/local-update",
        content=make(),
        headers={**WRITE, "Idempotency-Key": f"bad-{reason}"},
    )
    assert r.status_code == 422
    assert r.json()["detail"]["reason"] == reason


def test_duplicate_update_is_stored_once(server: tuple[Bed, str]) -> None:
    """The same Idempotency-Key twice: 202 then 200 duplicate, one document in MongoDB."""
    b, url = server
    headers = {**WRITE, "Idempotency-Key": "dup-1"}
    first = httpx.post(f"{url}/api/local-update", content=body(), headers=headers)
    second = httpx.post(f"{url}/api/local-update", content=body(), headers=headers)
    assert (first.status_code, second.status_code) == (202, 200)
    with b.mongo() as client:
        assert client[b.db]["updates"].count_documents({"_id": "dup-1"}) == 1
    metrics = httpx.get(f"{url}/metrics").text
    assert 'flead_updates_total{outcome="duplicate"}' in metrics


def test_the_served_model_is_a_model_version_of_the_settings_spec(server: tuple[Bed, str]) -> None:
    """GET /api/global-model is a ModelVersion blob: the default spec (features, seed 0), the
    spec's seeded initial tensors as version 0, and FedAvg's partial granularity."""
    _, url = server
    served = ModelVersion.from_blob(httpx.get(f"{url}/api/global-model").content)
    assert served.spec == ModelSpec.of(CHANNELS, seed=0)
    assert served.granularity is Granularity.PARTIAL
    for a, b in zip(served.tensors, served.spec.initial_tensors(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_partial_aggregate_counts_its_samples_and_sender(server: tuple[Bed, str]) -> None:
    """A trainer's partial aggregate (devices=40 in its metadata) is one accepted update."""
    _, url = server
    blob = encode_arrays(
        shapes_like(0.01), {"device": "group-7", "samples": 4000, "base_version": 0, "devices": 40}
    )
    r = httpx.post(
        f"{url}/api/local-update", content=blob, headers={**WRITE, "Idempotency-Key": "part-1"}
    )
    assert r.status_code == 202
    bad = encode_arrays(shapes_like(0.01), {"device": "g", "samples": 1, "base_version": 0,
                                            "devices": 0})  # fmt: skip
    r = httpx.post(
        f"{url}/api/local-update", content=bad, headers={**WRITE, "Idempotency-Key": "part-2"}
    )
    assert r.status_code == 422
    assert r.json()["detail"]["field"] == "devices"


def test_a_bundle_stores_every_entry_once(server: tuple[Bed, str]) -> None:
    """A per-device bundle is one request: 202, one stored update per entry, a resend 200."""
    b, url = server
    ups = [Update(f"bun-{i}", f"dev{i}", 3, 0, shapes_like(0.01), via="g9") for i in range(4)]
    first = httpx.post(f"{url}/api/local-update", content=bundle_blob(ups), headers=WRITE)
    again = httpx.post(f"{url}/api/local-update", content=bundle_blob(ups), headers=WRITE)
    assert (first.status_code, again.status_code) == (202, 200)
    with b.mongo() as client:
        stored = client[b.db]["updates"].count_documents({"_id": {"$regex": "^bun-"}})
    assert stored == 4


def test_a_trainer_of_another_spec_refuses_to_start(server: tuple[Bed, str]) -> None:
    """A trainer whose model seed differs from the aggregator's exits non-zero before learning,
    with one line naming both specs."""
    b, url = server
    b.create_topics(1)
    proc = b.start(
        "flead_trainer", "trainer-other-spec", flead_aggregator_url=url, flead_model_seed=1,
        flead_partitions="0", flead_partition_group="odd", flead_consumer_group=f"{b.prefix}-odd",
        flead_metrics_port=free_port(),
    )  # fmt: skip
    assert proc.wait(60) != 0
    log = b.log("trainer-other-spec").splitlines()
    lines = [line for line in log if line.startswith("flead-trainer: model spec mismatch")]
    assert len(lines) == 1, log[-5:]
    assert "seed=1" in lines[0]
    assert "seed=0" in lines[0]
    assert '"batches": 0' in b.log("trainer-other-spec")  # it stopped before its first batch


@pytest.fixture
def api_schema(server: tuple[Bed, str]) -> schemathesis.BaseSchema:
    """The served OpenAPI document."""
    return schemathesis.openapi.from_url(f"{server[1]}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    """Whatever schemathesis sends, with or without the token, the aggregator never answers 5xx."""
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error]
    )
