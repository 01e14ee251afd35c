"""Riding out a MongoDB outage: the backoff schedule, the retrying call, readiness, back-pressure."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure

from flead_trainer import metrics as m
from flead_trainer.health import Probes
from flead_trainer.loop import Trainer
from flead_trainer.retry import Dependency, backoff_delays, mongo_transient
from flead_trainer.settings import load_settings
from flead_trainer.store import Delta

pytestmark = pytest.mark.unit


def test_backoff_doubles_from_initial_up_to_the_cap_and_stays_there() -> None:
    """The waits are initial, 2x, 4x, ... and never exceed the cap, for as long as asked."""
    assert list(itertools.islice(backoff_delays(0.2, 5.0), 8)) == [
        0.2,
        0.4,
        0.8,
        1.6,
        3.2,
        5.0,
        5.0,
        5.0,
    ]
    assert list(itertools.islice(backoff_delays(1.0, 0.5, factor=3), 2)) == [0.5, 0.5]


def test_transient_means_connection_loss_or_a_retryable_label_not_a_rejected_document() -> None:
    """AutoReconnect and RetryableWriteError-labelled failures are waited out; a duplicate key,
    another server error or a plain bug is not."""
    assert mongo_transient(AutoReconnect("closed"))
    labelled = OperationFailure(
        "primary stepped down", 189, {"errorLabels": ["RetryableWriteError"]}
    )
    assert mongo_transient(labelled)
    assert not mongo_transient(DuplicateKeyError("dup", 11000))
    assert not mongo_transient(OperationFailure("bad", 2))
    assert not mongo_transient(ValueError("bug"))


class Clock:
    """A fake monotonic clock that `sleep` advances."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def dependency(clock: Clock, name: str, patience: float = 60.0) -> Dependency:
    return Dependency(
        name,
        mongo_transient,
        initial=0.5,
        cap=2.0,
        patience=patience,
        sleep=clock.sleep,
        clock=lambda: clock.now,
    )


def failing(times: int, result: Any = "done") -> Any:
    """A call that raises AutoReconnect `times` times, then returns `result`."""
    left = [times]

    def call() -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise AutoReconnect("connection refused")
        return result

    return call


def sample(metric: Any, label: str) -> float:
    return float(metric.labels(label)._value.get())


def test_a_transient_failure_is_retried_with_backoff_and_the_dependency_marked_down_meanwhile() -> (
    None
):
    """Four failures: four retries counted, waits 0.5, 1, 2, 2; down (with the reason) while
    failing, up again and the result returned once the call succeeds."""
    clock = Clock()
    dep = dependency(clock, "db-a")
    seen: list[tuple[bool, str | None, float]] = []
    inner = failing(4)

    def call() -> Any:
        seen.append((dep.up, dep.reason, sample(m.DEPENDENCY_UP, "db-a")))
        return inner()

    assert dep.call("results write", call) == "done"
    assert clock.slept == [0.5, 1.0, 2.0, 2.0]
    assert sample(m.DEPENDENCY_RETRIES, "db-a") == 4
    assert seen[0] == (True, None, 1.0)
    up, reason, gauge = seen[1]
    assert not up
    assert gauge == 0.0
    assert reason is not None
    assert "db-a unreachable during results write" in reason
    assert "AutoReconnect" in reason
    assert dep.up
    assert dep.reason is None
    assert sample(m.DEPENDENCY_UP, "db-a") == 1.0


def test_an_outage_longer_than_the_patience_propagates_the_error() -> None:
    """Once the dependency has been failing for `patience` seconds the error is raised (the
    trainer then stops, committing nothing); it stays marked down."""
    clock = Clock()
    dep = dependency(clock, "db-b", patience=5.0)
    with pytest.raises(AutoReconnect):
        dep.call("checkpoint write", failing(1000))
    assert 5.0 <= sum(clock.slept) < 5.0 + 2.0
    assert not dep.up


def test_a_non_transient_error_is_raised_at_once_without_a_retry() -> None:
    """A bug or a rejected write is not an outage: no wait, no retry, dependency still up."""
    clock = Clock()
    dep = dependency(clock, "db-c")

    def bad() -> None:
        raise OperationFailure("bad", 2)

    with pytest.raises(OperationFailure):
        dep.call("results write", bad)
    assert clock.slept == []
    assert dep.up
    assert sample(m.DEPENDENCY_RETRIES, "db-c") == 0


def test_readyz_reason_names_what_is_wrong_first_found_first() -> None:
    """Not assigned, then the dependency's reason, then a failed ping; None when all is well."""
    reason: list[str | None] = [None]
    ping = [True]
    p = Probes(lambda: ping[0], why_not=lambda: reason[0])
    assert p.not_ready_reason() == "not assigned yet (starting)"
    assert not p.ready()
    p.assigned = True
    assert p.not_ready_reason() is None
    assert p.ready()
    ping[0] = False
    assert p.not_ready_reason() == "mongodb does not answer ping"
    reason[0] = "mongodb unreachable during results write: AutoReconnect: x"
    assert p.not_ready_reason() == reason[0]


def test_retry_settings_have_defaults_and_read_flead_trainer_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Defaults 0.2 s first wait, 5 s cap, 5 s per call, 10 min patience; FLEAD_TRAINER_* set them."""
    s = load_settings()
    assert (s.trainer_retry_initial_seconds, s.trainer_retry_max_seconds) == (0.2, 5.0)
    assert (s.trainer_mongodb_timeout_seconds, s.trainer_mongodb_patience_seconds) == (5.0, 600.0)
    monkeypatch.setenv("FLEAD_TRAINER_RETRY_MAX_SECONDS", "1.5")
    monkeypatch.setenv("FLEAD_TRAINER_MONGODB_PATIENCE_SECONDS", "90")
    s = load_settings()
    assert (s.trainer_retry_max_seconds, s.trainer_mongodb_patience_seconds) == (1.5, 90.0)


class FakeConsumer:
    def __init__(self) -> None:
        self.consumes = 0
        self.commits: list[dict[int, int]] = []

    def consume(self, num: int, timeout: float) -> list[Any]:
        self.consumes += 1
        return []

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        self.commits.append({tp.partition: tp.offset for tp in offsets})


class FakeProducer:
    def flush(self, timeout: float) -> int:
        return 0

    def poll(self, timeout: float) -> int:
        return 0


class BlockingStore:
    """A store whose checkpoint write waits until `release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.saved: list[Delta] = []

    def write_anomalies(self, docs: Any) -> None:
        return None

    def write_results(self, docs: Any) -> None:
        return None

    def save(self, topic: str, deltas: list[Delta]) -> int:
        assert self.release.wait(10)
        self.saved += deltas
        return 1


class NoAggregator:
    def send(self, update: Any) -> Any:
        raise AssertionError("nothing learned, nothing sent")

    def send_many(self, updates: Any) -> Any:
        raise AssertionError("nothing learned, nothing sent")

    def fetch(self, have: int | None) -> None:
        return None


def test_a_checkpoint_still_being_written_holds_consumption_and_the_commit_back() -> None:
    """While the previous interval's write is running (e.g. retrying through an outage) and the
    next checkpoint is due, `step` consumes nothing and no offset is committed; once the write
    lands its offsets are committed and consumption resumes."""
    s = load_settings(trainer_checkpoint_seconds=0.001, trainer_poll_timeout_seconds=0.01)
    consumer, store = FakeConsumer(), BlockingStore()
    t = Trainer(s, consumer, FakeProducer(), store, NoAggregator())  # type: ignore[arg-type]
    t.uncommitted = {0: 10}
    t.checkpoint()  # the write of offsets up to 10 starts and blocks
    t.uncommitted = {0: 20}  # the next interval, scored meanwhile
    t.next_checkpoint = 0.0  # ...and its checkpoint is due
    for _ in range(5):
        assert t.step() == 0
    assert consumer.consumes == 0
    assert consumer.commits == []
    store.release.set()
    t._inflight.result(10)  # type: ignore[union-attr]
    assert consumer.commits == [{0: 10}]
    t.step()
    assert consumer.consumes == 1
    t.checkpoint(wait=True)
    assert consumer.commits == [{0: 10}, {0: 20}]


def test_a_device_checkpoint_of_another_format_starts_that_device_afresh() -> None:
    """After an upgrade that changed the model's state format, the old checkpoint's device
    states are refused one by one (logged, counted): the trainer does not crash on them, the
    devices it can restore are restored, and the refused one simply starts afresh."""
    from flead.model import DeviceBank
    from flead_trainer.metrics import CHECKPOINT_REFUSED
    from flead_trainer.store import Checkpoint, DeviceState

    s = load_settings(trainer_checkpoint_seconds=0.001)
    t = Trainer(s, FakeConsumer(), FakeProducer(), BlockingStore(), NoAggregator())  # type: ignore[arg-type]
    donor = DeviceBank(s.features, seed=s.model_seed)
    donor.add("good")
    states = {"good": DeviceState(donor.export_state("good")), "old": DeviceState(b"not a state")}
    before = CHECKPOINT_REFUSED._value.get()
    t.restore({0: Checkpoint(0, 10, states, 0)})
    assert CHECKPOINT_REFUSED._value.get() == before + 1
    assert t.owner == {"good": 0}
    assert list(t.bank.devices()) == ["good"]
