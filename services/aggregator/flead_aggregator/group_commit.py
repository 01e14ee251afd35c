"""Group commit: concurrent requests' durable writes share one store round trip (one insert_many)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Ticket(Generic[T, R]):
    """One caller's items, and what the write that carried them answered."""

    items: Sequence[T]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to write the queue itself, not with its answer
    results: list[R] | None = None
    error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """`submit(items)` returns `write(items)`'s answer for them, but while one write is in flight
    the callers arriving meanwhile queue up, and the next write carries all of them at once.

    No thread of its own: the caller that finds no write in flight writes (the leader); when its
    write returns it answers everyone it carried and hands the lead to the oldest waiting caller.
    `write` gets the concatenated items and returns one result per item, in order; if it raises,
    every caller it carried gets that exception (nothing of theirs counts as written).
    """

    def __init__(self, write: Callable[[list[T]], list[R]]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._queue: list[_Ticket[T, R]] = []
        self._writing = False

    def queued(self) -> int:
        """Callers waiting for the next write."""
        with self._lock:
            return len(self._queue)

    def submit(self, items: Sequence[T]) -> list[R]:
        """One result per item, once a write carrying them returned."""
        if not items:
            return []
        ticket: _Ticket[T, R] = _Ticket(items)
        with self._lock:
            self._queue.append(ticket)
            ticket.lead = not self._writing
            self._writing = True
        if not ticket.lead:
            ticket.done.wait()
        if ticket.lead:  # first in, or handed the lead while waiting: write the queue
            self._write_queue()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.results is not None
        return ticket.results

    def _write_queue(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        items = [item for t in batch for item in t.items]
        try:
            results = self._write(items)
            if len(results) != len(items):
                raise RuntimeError(f"write answered {len(results)} results for {len(items)} items")
        except BaseException as exc:  # handed to every caller it carried
            for t in batch:
                t.error = exc
        else:
            at = 0
            for t in batch:
                t.results = results[at : at + len(t.items)]
                at += len(t.items)
        finally:
            with self._lock:
                heir = self._queue[0] if self._queue else None
                self._writing = heir is not None
                if heir is not None:
                    heir.lead = True
            for t in batch:
                t.lead = False
                t.done.set()
            if heir is not None:
                heir.done.set()
