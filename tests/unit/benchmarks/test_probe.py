"""The latency probe counts a record committed only once its partition's committed offset passes it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from benchmarks.services import Probe
from confluent_kafka import TopicPartition

pytestmark = pytest.mark.unit


@dataclass
class _Msg:
    p: int
    o: int
    stamp: float

    def error(self) -> None:
        return None

    def partition(self) -> int:
        return self.p

    def offset(self) -> int:
        return self.o

    def timestamp(self) -> tuple[int, int]:
        return 1, round(self.stamp * 1e3)

    def value(self) -> bytes:
        return json.dumps({"device": str(self.p), "time": float(self.o), "values": {}}).encode()


def test_commit_marks_only_the_records_below_each_committed_offset() -> None:
    """Offsets 0-2 of partition 0 and 0 of partition 1 commit; the rest wait for a later commit."""
    probe = Probe()
    past = time.time() - 1.0
    probe.consumed_msgs([_Msg(0, o, past) for o in range(4)] + [_Msg(1, 0, past), _Msg(1, 1, past)])
    probe.commit_done([TopicPartition("t", 0, 3), TopicPartition("t", 1, 1)])
    assert probe.n_committed == 4
    assert len(probe.pending) == 2
    assert all(0.9 < x < 5.0 for x in probe.committed)
    probe.visible.append(("0", 2.0, past + 0.25))
    assert probe.anomaly_latencies() == pytest.approx([0.25], abs=1e-3)
    probe.commit_done([TopicPartition("t", 0, 4), TopicPartition("t", 1, 2)])
    assert probe.n_committed == 6
    assert not probe.pending


def test_a_counting_probe_keeps_nothing() -> None:
    """record=False (the throughput run) counts consumed records and keeps no message."""
    probe = Probe(record=False)
    probe.consumed_msgs([_Msg(0, 0, 0.0)])
    assert probe.n_consumed == 1
    assert not probe.pending
