"""The in-memory transport of `flead simulate`: a participant talks to a `Strategy` in-process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from flead.federation.participant import Outcome
from flead.federation.strategy import Closed, Strategy, Update
from flead.federation.validate import UpdateRejected
from flead.federation.version import ModelVersion

__all__ = ["LocalTransport"]


class LocalTransport:
    """What the aggregator service does with an update, minus HTTP and the durable store:
    accept it into the strategy, close the round when it is due, serve the current version."""

    def __init__(self, strategy: Strategy, clock: Callable[[], float]) -> None:
        self.strategy, self.clock = strategy, clock
        self.closed: list[Closed] = []

    def send(self, update: Update) -> Outcome:
        """Accept into the strategy (closing a due round); the outcome as the API reports it."""
        now = self.clock()
        try:
            self.strategy.accept(replace(update, received_at=now))
        except UpdateRejected as exc:
            return Outcome(exc.outcome)
        if self.strategy.due(now):
            self.flush(now)
        return Outcome.ACCEPTED

    def send_many(self, updates: Sequence[Update]) -> Outcome:
        """A bundle: every update accepted (a refused one is skipped), then the round checked once."""
        now = self.clock()
        outcomes = []
        for u in updates:
            try:
                self.strategy.accept(replace(u, received_at=now))
                outcomes.append(Outcome.ACCEPTED)
            except UpdateRejected as exc:
                outcomes.append(Outcome(exc.outcome))
        if self.strategy.due(now):
            self.flush(now)
        return Outcome.ACCEPTED if Outcome.ACCEPTED in outcomes else outcomes[0]

    def flush(self, now: float) -> None:
        """Close the round now if it holds anything (the service's round timer)."""
        closed = self.strategy.close(now)
        if closed is not None:
            self.strategy.adopt(closed.version)
            self.closed.append(closed)

    def fetch(self, have: int | None) -> ModelVersion | None:
        """The current version unless `have` is it (the services' If-None-Match)."""
        cur = self.strategy.current
        return None if have == cur.version else cur
