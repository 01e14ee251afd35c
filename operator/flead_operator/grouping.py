"""Pure grouping: devices -> partition groups, stable so that new devices rarely move old groups.

Rules (documented in docs/operator.md):

1. A device reads from one partition of the readings topic; a partition is consumed by exactly one
   group, so every device of a partition lands in the same group.
2. ``spec.partitionGroup`` claims the device's partition for the named group. When devices of one
   partition name different groups, the first name in sort order wins (deterministic).
3. Other partitions fall into fixed chunks of ``partitions_per_trainer``: chunk ``c`` covers
   partitions ``c*k .. c*k+k-1`` and is named ``p<first>-<last>``. A chunk's group consumes all its
   unclaimed partitions, so a device joining an already consumed partition changes no Deployment.
4. With ``max_devices`` > 0, a chunk holding more devices is cut greedily, in partition order, into
   contiguous runs of at most ``max_devices`` devices (a single partition is never split).
5. Only groups with at least one device exist.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Group", "Grouping", "Member", "auto_group_name", "plan_groups"]


@dataclass(frozen=True)
class Member:
    """A device taking part in grouping (not paused, valid partition)."""

    name: str
    partition: int
    group: str | None = None


@dataclass(frozen=True)
class Group:
    """A partition group: the partitions one trainer consumes and the devices it serves."""

    name: str
    partitions: tuple[int, ...]
    devices: tuple[str, ...]


@dataclass(frozen=True)
class Grouping:
    """The outcome: groups by name, each device's group, and notes for devices that were moved."""

    groups: Mapping[str, Group]
    assignment: Mapping[str, str]
    notes: Mapping[str, str]


def auto_group_name(first: int, last: int) -> str:
    """Name of an automatic group covering partitions first..last."""
    return f"p{first}" if first == last else f"p{first}-{last}"


def _claims(members: Iterable[Member]) -> dict[int, str]:
    """Partition -> the group that claims it through spec.partitionGroup (first name wins)."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for member in members:
        if member.group:
            wanted[member.partition].add(member.group)
    return {partition: min(names) for partition, names in wanted.items()}


def _runs(free: list[int], counts: Counter[int], max_devices: int) -> list[list[int]]:
    """Cut a chunk's free partitions into contiguous runs of at most max_devices devices."""
    if max_devices <= 0 or sum(counts[p] for p in free) <= max_devices:
        return [free]
    runs: list[list[int]] = [[]]
    load = 0
    for partition in free:
        if load and counts[partition] and load + counts[partition] > max_devices:
            runs.append([])
            load = 0
        runs[-1].append(partition)
        load += counts[partition]
    return runs


def plan_groups(
    members: Iterable[Member],
    *,
    partitions: int,
    partitions_per_trainer: int,
    max_devices: int = 0,
) -> Grouping:
    """Group ``members`` (partitions must lie in 0..partitions-1) following the module's rules."""
    members = sorted(members, key=lambda m: m.name)
    claims = _claims(members)
    counts = Counter(m.partition for m in members)
    group_of_partition: dict[int, str] = dict(claims)
    size = max(1, partitions_per_trainer)
    for chunk in sorted({m.partition // size for m in members if m.partition not in claims}):
        first, last = chunk * size, min(chunk * size + size, partitions) - 1
        free = [p for p in range(first, last + 1) if p not in claims]
        for run in _runs(free, counts, max_devices):
            name = auto_group_name(run[0], run[-1])
            group_of_partition.update(dict.fromkeys(run, name))
    by_group: dict[str, list[str]] = defaultdict(list)
    assignment: dict[str, str] = {}
    notes: dict[str, str] = {}
    for member in members:
        name = group_of_partition[member.partition]
        assignment[member.name] = name
        by_group[name].append(member.name)
        if member.partition in claims and member.group != name:
            asked = f"spec.partitionGroup {member.group!r} ignored: " if member.group else ""
            notes[member.name] = (
                f"{asked}partition {member.partition} is claimed by group {name!r} "
                "(spec.partitionGroup of a device on the same partition)"
            )
    parts: dict[str, list[int]] = defaultdict(list)
    for partition, name in sorted(group_of_partition.items()):
        parts[name].append(partition)
    groups = {
        name: Group(name=name, partitions=tuple(parts[name]), devices=tuple(devices))
        for name, devices in sorted(by_group.items())
    }
    return Grouping(groups=groups, assignment=assignment, notes=notes)
