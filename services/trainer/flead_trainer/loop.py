"""The trainer's micro-batch loop: score then learn, publish, persist, checkpoint, then commit."""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

import numpy as np
from confluent_kafka import Consumer, Producer, TopicPartition

from flead.logging import get_logger
from flead.model import DeviceBank
from flead.wire import WireError
from flead_trainer import metrics as m
from flead_trainer.assignment import Assignment, AssignmentFile, OncePer, select
from flead_trainer.batch import (
    ResultColumns,
    anomaly_docs,
    batch_results,
    first_offsets,
    last_partitions,
    merge_results,
    next_offsets,
    result_document,
    summarize,
)
from flead_trainer.client import AggregatorClient
from flead_trainer.decode import Decoded, Raw, decode_batch
from flead_trainer.federate import Federator
from flead_trainer.kafka_io import Deliveries, flush_all, kafka_transient, resume_positions
from flead_trainer.publish import publish_anomalies, publish_dead
from flead_trainer.retry import Dependency, mongo_transient
from flead_trainer.settings import TrainerSettings
from flead_trainer.store import Checkpoint, Delta, DeviceState, TrainerStore

__all__ = ["Trainer"]

log = get_logger(__name__)
UNSERVED_LOG_SECONDS = 60.0  # one log line per unserved device per minute at most
COMMIT_STALL_SECONDS = 3.0  # an offset commit unanswered this long marks kafka down


class Trainer:
    """Owns a partition group: every batch is durable (results, checkpoint) before its commit."""

    def __init__(
        self,
        s: TrainerSettings,
        consumer: Consumer,
        producer: Producer,
        store: TrainerStore,
        client: AggregatorClient,
        bank: DeviceBank | None = None,
        deliveries: Deliveries | None = None,
    ) -> None:
        """`deliveries`: the producer's delivery reports (failed records are produced again)."""
        self.s = s
        self.deliveries = deliveries
        self.topic = s.readings_topic
        self.consumer, self.producer, self.store, self.client = consumer, producer, store, client
        self.bank = bank or DeviceBank(s.features, seed=s.model_seed)
        self.fed = Federator(s, self.bank, client)
        self.owner: dict[str, int] = {}  # device -> partition it was last seen on
        self.ready = False
        self.batches = 0
        self.next_checkpoint = time.monotonic() + s.trainer_checkpoint_seconds
        self.uncommitted: dict[int, int] = {}  # partition -> next offset not yet checkpointed
        self.changed: set[str] = set()  # devices whose state changed since the last checkpoint
        self.dropped: dict[int, set[str]] = {}  # partition -> devices that left it since then
        self.results: dict[int, list[ResultColumns]] = {}  # partition -> batches since then
        self.anomaly_writes: list[Future[None]] = []  # this interval's anomaly inserts
        backoff = functools.partial(
            Dependency, initial=s.trainer_retry_initial_seconds, cap=s.trainer_retry_max_seconds
        )
        self.mongo = backoff(
            "mongodb", mongo_transient, patience=s.trainer_mongodb_patience_seconds
        )
        self.kafka = backoff("kafka", kafka_transient, patience=s.trainer_kafka_patience_seconds)
        self.assignment = Assignment()  # every device until the operator's file says otherwise
        self._assignment_file = AssignmentFile(s.trainer_assignment_file)
        self._next_assignment = 0.0
        self._unserved_log = OncePer(UNSERVED_LOG_SECONDS)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        # anomalies are inserted batch by batch, as soon as they are scored (not with the
        # checkpoint): keyed by (device, time), so a replay after a crash inserts nothing new
        self._anomaly_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anomalies")
        self._committing: float | None = None  # when the writer's offset commit started
        self._inflight: Future[None] | None = None

    def start(self) -> None:
        """Restore checkpointed devices, assign the partitions at their resume offsets."""
        partitions = self.s.partition_list
        # MongoDB down at start: wait for it (as for any write), up to its patience.
        saved = self.mongo.call("checkpoint load", lambda: self.store.load(self.topic, partitions))
        self.restore(saved)
        self.refresh_assignment(strict=True)
        positions = resume_positions(
            self.consumer, self.topic, partitions, {p: c.next_offset for p, c in saved.items()}
        )
        self.consumer.assign(positions)
        m.DEVICES.set(len(self.owner))
        self.fed.join()  # the current global version, adopted before the first batch is learned
        self.ready = True
        log.info(
            "assigned",
            partitions=partitions,
            resumed={tp.partition: tp.offset for tp in positions},
            devices=len(self.owner),
        )

    def step(self) -> int:
        """Process one micro-batch; returns how many records it held (0 = none arrived, or
        consumption paused while the previous checkpoint is still being written)."""
        msgs = [] if self._held_back() else self._consume()
        records = []
        for msg in msgs:
            error = msg.error()
            if error is not None:
                log.warning("consume error", error=str(error))
                continue
            records.append(Raw(msg.partition() or 0, msg.offset() or 0, msg.key(), msg.value()))
        if records:
            self.kafka.succeeded("consume")  # librdkafka reconnected by itself
        if time.monotonic() >= self._next_assignment:
            self.refresh_assignment()
        if records:
            self._process(records)
        if time.monotonic() >= self.next_checkpoint:
            self.checkpoint()
        self.fed.tick()
        self.changed.update(self.fed.changed())  # sends and adoptions change device state too
        return len(records)

    def _consume(self) -> list[Any]:
        return self.consumer.consume(self.s.trainer_batch_size, self.s.trainer_poll_timeout_seconds)

    def _held_back(self) -> bool:
        """Back-pressure: a checkpoint is due but the previous one is not durable yet (e.g. its
        writes wait out a MongoDB outage). Nothing is consumed then, so no offset moves and no
        more than one interval waits in memory; waits up to one poll timeout for the write."""
        inflight = self._inflight
        if inflight is None or inflight.done() or not self._checkpoint_due():
            return False
        wait_futures([inflight], timeout=self.s.trainer_poll_timeout_seconds)
        since = self._committing
        if since is not None and time.monotonic() - since > COMMIT_STALL_SECONDS:
            # librdkafka waits for the group coordinator without end (no error to retry on);
            # the commit lands when the broker is back. Meanwhile: kafka counts as down.
            waited = time.monotonic() - since
            self.kafka.failed("offset commit", f"no answer from the coordinator for {waited:.0f}s")
        return not inflight.done()

    def _checkpoint_due(self) -> bool:
        return bool(self.uncommitted) and time.monotonic() >= self.next_checkpoint

    def not_ready_reason(self) -> str | None:
        """Why the trainer should get no traffic right now (None = no reason known here)."""
        return self.mongo.reason

    def _process(self, records: list[Raw]) -> None:
        d = decode_batch(records, self.s.features)
        publish_dead(self.producer, self.s.dead_letter_topic, self.topic, d.dead)
        for dead in d.dead:
            m.DEAD.labels(dead.reason.split(":")[0]).inc()
        d = self._served(d)
        started = time.perf_counter()
        if len(d):
            res = self.bank.process(d.device, d.time, d.values)
            score, threshold, anomaly = res.score, res.threshold, res.anomaly
        else:
            score = threshold = np.empty(0, np.float32)
            anomaly = np.empty(0, bool)
        m.TRAINING.observe(time.perf_counter() - started)
        flagged = anomaly_docs(d, score, threshold, anomaly, self.fed.version)
        publish_anomalies(self.producer, self.s.anomalies_topic, flagged)
        started = time.perf_counter()
        for part in batch_results(
            d, first_offsets(records), score, threshold, anomaly, self.fed.version
        ):
            self.results.setdefault(part.partition, []).append(part)
        if flagged:
            insert = functools.partial(self.store.write_anomalies, flagged)
            self.anomaly_writes.append(
                self._anomaly_writer.submit(self.mongo.call, "anomalies write", insert)
            )
        self.producer.poll(0)
        m.CHECKPOINT.observe(time.perf_counter() - started)
        for device, p in last_partitions(d).items():  # one step per device, not per row
            was = self.owner.get(device)
            if was != p:
                if was is not None:
                    self.dropped.setdefault(was, set()).add(device)
                self.owner[device] = p
        self.changed.update(d.device.tolist())
        self.uncommitted.update(next_offsets(records))
        self._count(d.device, score, threshold, anomaly)
        self.batches += 1

    def checkpoint(self, wait: bool = False) -> None:
        """Snapshot the interval (results, device states, next offsets) and make it durable in a
        writer thread, which commits the offsets only after the writes; one write in flight.
        While the previous write is still running the checkpoint stays due and `step` consumes
        nothing (back-pressure) — unless `wait`, which blocks until both are durable."""
        if self.uncommitted and not wait and not self._write_done():
            return
        self.next_checkpoint = time.monotonic() + self.s.trainer_checkpoint_seconds
        if self.uncommitted:
            self._drain()  # the previous interval is durable first
            offsets = dict(self.uncommitted)
            results = [
                result_document(self.topic, merge_results(parts)) for parts in self.results.values()
            ]
            states: dict[int, dict[str, DeviceState]] = {p: {} for p in offsets}
            for device in sorted(self.changed):
                p = self.owner.get(device, -1)
                if p in states:
                    states[p][device] = self.device_state(device)
                    self.changed.discard(device)
            cps = [
                Delta(p, offsets[p], st, frozenset(self.dropped.pop(p, ())), self.fed.version)
                for p, st in states.items()
            ]
            anomalies, self.anomaly_writes = self.anomaly_writes, []
            self.results.clear()
            self.uncommitted.clear()
            self._inflight = self._writer.submit(self._write, results, anomalies, cps, offsets)
        if wait:
            self._drain()

    def refresh_assignment(self, strict: bool = False) -> None:
        """Re-read the operator's assignment; devices it no longer lists leave the bank and the
        checkpoint. A bad file keeps the current assignment (raises when `strict`, at start)."""
        self._next_assignment = time.monotonic() + self.s.trainer_assignment_poll_seconds
        try:
            new = self._assignment_file.read()
        except (OSError, ValueError) as exc:
            if strict:
                raise
            log.error("assignment unreadable, keeping the current one", error=str(exc))
            return
        if new is None:
            return
        self.assignment = new
        gone = sorted(d for d in self.owner if not new.keeps(d))
        for device in gone:
            self.bank.remove(device)
            self.dropped.setdefault(self.owner.pop(device), set()).add(device)
            self.changed.discard(device)
        m.DEVICES.set(len(self.owner))
        served = sum(new.serves(d) for d in new.devices) if new.devices is not None else None
        log.info("assignment", revision=new.revision, devices=served, dropped=gone[:20])

    def _served(self, d: Decoded) -> Decoded:
        """The rows of devices this trainer serves, with the features a device does not report
        ignored (NaN); other rows are counted and logged once a minute per device."""
        sel = select(d.device, self.s.features, self.assignment)
        if sel.refused:
            now = time.monotonic()
            for reason, k in Counter(sel.refused[x] for x in d.device[~sel.keep]).items():
                m.UNSERVED.labels(reason.value).inc(k)
            for device, reason in sel.refused.items():
                if self._unserved_log.due(device, now):
                    log.warning(
                        "reading of a device this trainer does not serve",
                        device=device,
                        reason=reason.value,
                        group=self.s.partition_group,
                    )
            d = d.rows(sel.keep)
        if sel.mask.any():
            d.values[sel.mask[sel.keep]] = np.nan
        return d

    def restore(self, saved: dict[int, Checkpoint]) -> None:
        """Restore every checkpointed device. A state this bank cannot take (written by another
        model version or state format, e.g. after an upgrade) is logged and counted, and that
        device starts afresh: an upgrade never crash-loops the trainer on its own checkpoint."""
        for cp in saved.values():
            for device, state in cp.devices.items():
                try:
                    self.restore_device(device, state)
                except WireError as exc:
                    m.CHECKPOINT_REFUSED.inc()
                    log.warning(
                        "device checkpoint not restored: the device starts afresh",
                        device=device, partition=cp.partition, reason=str(exc),
                    )  # fmt: skip
                    continue
                self.owner[device] = cp.partition

    def device_state(self, device: str) -> DeviceState:
        """What the checkpoint keeps of a device: its model, plus one named part per other owner
        of per-device state (the seam: e.g. the federation's Participant adds a part here)."""
        return DeviceState(self.bank.export_state(device))

    def restore_device(self, device: str, state: DeviceState) -> None:
        """Inverse of `device_state`, on start."""
        self.bank.import_state(device, state.model)

    def mark_changed(self, devices: Iterable[str]) -> None:
        """Have the next checkpoint write these devices (state changed without a reading)."""
        self.changed.update(devices)

    def _write_done(self) -> bool:
        return self._inflight is None or self._inflight.done()

    def _drain(self) -> None:
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            # Re-raises a failed write (not transient, or MongoDB down longer than its
            # patience): the loop stops, nothing is committed.
            inflight.result()

    def _write(
        self,
        results: list[dict[str, Any]],
        anomalies: list[Future[None]],
        cps: list[Delta],
        offsets: dict[int, int],
    ) -> None:
        """Each MongoDB write is retried (capped backoff) while the database is unreachable:
        every one of them is idempotent, so a write that landed before its reply was lost is
        harmless to repeat. The offsets are committed only after all of them, the interval's
        anomaly inserts (already under way since their batches) included. Kafka likewise:
        dead letters and anomalies are acknowledged (failed ones produced again) before the
        offsets move, and the commit is retried while the broker is unreachable."""
        started = time.perf_counter()
        self.kafka.call("produce flush", lambda: flush_all(self.producer, self.deliveries, 10.0))
        call = self.mongo.call
        for insert in anomalies:  # re-raises an insert that failed for good
            insert.result()
        call("results write", lambda: self.store.write_results(results))
        for c in cps:  # one partition at a time: a retry repeats only the unfinished one
            m.CHECKPOINT_BYTES.inc(call("checkpoint write", functools.partial(self.save, c)))
        m.CHECKPOINT_DEVICES.inc(sum(len(c.changed) for c in cps))
        tps = [TopicPartition(self.topic, p, o) for p, o in offsets.items()]
        self.kafka.call("offset commit", functools.partial(self._commit, tps))
        m.CHECKPOINT.observe(time.perf_counter() - started)

    def _commit(self, tps: list[TopicPartition]) -> None:
        self._committing = time.monotonic()
        try:
            self.consumer.commit(offsets=tps, asynchronous=False)
        finally:
            self._committing = None

    def save(self, delta: Delta) -> int:
        """One partition's checkpoint (the store's `save` of one delta); BSON bytes written."""
        return self.store.save(self.topic, [delta])

    def _count(
        self, device: np.ndarray, score: np.ndarray, threshold: np.ndarray, anomaly: np.ndarray
    ) -> None:
        n = len(device)
        m.CONSUMED.inc(n)
        m.ANOMALIES.inc(int(anomaly.sum()))
        m.DEVICES.set(len(self.owner))
        if not n:
            return
        per = summarize(device, score, threshold, anomaly)
        self.fed.learned(per.counts.items())
        m.count_devices(per.counts, per.anomalies, per.score, per.threshold)

    def status(self) -> dict[str, Any]:
        """Readiness facts."""
        return {
            "ready": self.ready,
            "batches": self.batches,
            "devices": len(self.owner),
            "global_version": self.fed.version,
        }
