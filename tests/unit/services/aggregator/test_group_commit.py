"""Group commit: callers arriving during a write share the next one, each gets its own answers."""

from __future__ import annotations

import threading
import time

import pytest

from flead_aggregator.group_commit import GroupCommit

pytestmark = pytest.mark.unit


class GatedWrite:
    """A write that records each batch and blocks its first call until `release` is set."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, items: list[str]) -> list[str]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.release.wait(10), "test never released the first write"
        if self.fail_on in items:
            raise ConnectionError("store down")
        return [f"ok:{item}" for item in items]


def _wait_queued(gc: GroupCommit[str, str], count: int) -> None:
    """Until `count` callers wait behind the write in flight (bounded; no sleep-and-hope)."""
    deadline = time.monotonic() + 10
    while gc.queued() < count:
        assert time.monotonic() < deadline, f"only {gc.queued()} of {count} callers queued"
        time.sleep(0.001)


def test_alone_each_call_is_its_own_write() -> None:
    """Without concurrency nothing waits: one write per call, in call order."""
    write = GatedWrite()
    write.release.set()
    gc = GroupCommit(write)
    assert gc.submit(["a"]) == ["ok:a"]
    assert gc.submit(["b", "c"]) == ["ok:b", "ok:c"]
    assert write.batches == [["a"], ["b", "c"]]
    assert gc.submit([]) == []
    assert len(write.batches) == 2  # nothing to write: no round trip


def test_callers_arriving_during_a_write_share_the_next_one() -> None:
    """While the first write is in flight, five callers queue; the second write carries all of
    them at once (two round trips for six calls) and each caller gets exactly its own results."""
    write = GatedWrite()
    gc = GroupCommit(write)
    answers: dict[str, list[str]] = {}

    def call(name: str, items: list[str]) -> None:
        answers[name] = gc.submit(items)

    first = threading.Thread(target=call, args=("first", ["x"]))
    first.start()
    assert write.entered.wait(10)
    others = [
        threading.Thread(target=call, args=(f"c{i}", [f"c{i}-{j}" for j in range(i + 1)]))
        for i in range(5)
    ]
    for t in others:
        t.start()
    _wait_queued(gc, 5)
    write.release.set()
    for t in [first, *others]:
        t.join(10)
    assert len(write.batches) == 2
    assert sorted(write.batches[1]) == sorted(f"c{i}-{j}" for i in range(5) for j in range(i + 1))
    assert answers["first"] == ["ok:x"]
    for i in range(5):
        assert answers[f"c{i}"] == [f"ok:c{i}-{j}" for j in range(i + 1)]


def test_a_failed_write_fails_every_caller_it_carried_and_the_next_one_works() -> None:
    """The write carrying `bad` raises: both callers in it get the error (nothing of theirs
    counts as written), the caller of the write before is unaffected, and later calls work."""
    write = GatedWrite(fail_on="bad")
    gc = GroupCommit(write)
    errors: dict[str, BaseException] = {}
    answers: dict[str, list[str]] = {}

    def call(name: str, items: list[str]) -> None:
        try:
            answers[name] = gc.submit(items)
        except ConnectionError as exc:
            errors[name] = exc

    threads = [threading.Thread(target=call, args=("first", ["ok"]))]
    threads[0].start()
    assert write.entered.wait(10)
    threads += [threading.Thread(target=call, args=(n, [n])) for n in ("bad", "good")]
    for t in threads[1:]:
        t.start()
    _wait_queued(gc, 2)
    write.release.set()
    for t in threads:
        t.join(10)
    assert answers == {"first": ["ok:ok"]}
    assert set(errors) == {"bad", "good"}
    assert gc.submit(["later"]) == ["ok:later"]
