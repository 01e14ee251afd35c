"""Grouping devices into partition groups: fixed chunks, overrides, splitting, stability."""

from __future__ import annotations

import pytest

from flead_operator.grouping import Member, auto_group_name, plan_groups

pytestmark = pytest.mark.unit


def _plan(members: list[Member], max_devices: int = 0, per: int = 4, partitions: int = 12):
    return plan_groups(
        members, partitions=partitions, partitions_per_trainer=per, max_devices=max_devices
    )


def test_devices_fall_into_fixed_partition_chunks() -> None:
    """Chunk c covers partitions c*k..c*k+k-1 and its group consumes the whole chunk."""
    grouping = _plan([Member("a", 0), Member("b", 5), Member("c", 6), Member("d", 11)])
    assert {n: g.partitions for n, g in grouping.groups.items()} == {
        "p0-3": (0, 1, 2, 3),
        "p4-7": (4, 5, 6, 7),
        "p8-11": (8, 9, 10, 11),
    }
    assert grouping.assignment == {"a": "p0-3", "b": "p4-7", "c": "p4-7", "d": "p8-11"}
    assert grouping.groups["p4-7"].devices == ("b", "c")


def test_last_chunk_is_cut_at_the_topic_size() -> None:
    """With 10 partitions and 4 per trainer the last group covers only 8..9."""
    grouping = _plan([Member("a", 9)], partitions=10)
    assert grouping.groups["p8-9"].partitions == (8, 9)


def test_no_devices_no_groups() -> None:
    """Groups exist only when they have devices."""
    assert _plan([]).groups == {}


def test_adding_a_device_leaves_existing_groups_unchanged() -> None:
    """A new device joins an existing group or adds one; no other group's partitions change."""
    before = _plan([Member("a", 0), Member("b", 5)])
    after = _plan([Member("a", 0), Member("b", 5), Member("c", 2), Member("d", 9)])
    for name, group in before.groups.items():
        assert after.groups[name].partitions == group.partitions
    assert after.assignment["c"] == "p0-3"
    assert set(after.groups) == {"p0-3", "p4-7", "p8-11"}


def test_removing_the_last_device_of_a_group_removes_the_group() -> None:
    """An emptied group disappears; the others keep their partitions."""
    grouping = _plan([Member("a", 0)])
    assert set(grouping.groups) == {"p0-3"}


def test_override_claims_the_whole_partition() -> None:
    """spec.partitionGroup moves the device's partition, with every device on it, to that group."""
    grouping = _plan([Member("a", 1, "lab"), Member("b", 1), Member("c", 2)])
    assert grouping.groups["lab"].partitions == (1,)
    assert grouping.groups["p0-3"].partitions == (0, 2, 3)
    assert grouping.assignment == {"a": "lab", "b": "lab", "c": "p0-3"}
    assert "claimed by group 'lab'" in grouping.notes["b"]
    assert "a" not in grouping.notes


def test_conflicting_overrides_resolve_to_the_first_name() -> None:
    """Two names on one partition: the first in sort order wins, the loser gets a note."""
    grouping = _plan([Member("a", 3, "zeta"), Member("b", 3, "alpha")])
    assert grouping.assignment == {"a": "alpha", "b": "alpha"}
    assert "spec.partitionGroup 'zeta' ignored" in grouping.notes["a"]


def test_max_devices_splits_a_chunk_into_contiguous_runs() -> None:
    """A chunk over the limit is cut in partition order; runs hold at most max_devices devices."""
    members = [Member(f"d{i}", p) for i, p in enumerate([0, 0, 1, 1, 2, 3, 3])]
    grouping = _plan(members, max_devices=3)
    assert {n: g.partitions for n, g in grouping.groups.items()} == {
        "p0": (0,),
        "p1-2": (1, 2),
        "p3": (3,),
    }
    assert all(len(g.devices) <= 3 for g in grouping.groups.values())


def test_a_partition_over_the_limit_is_never_split() -> None:
    """One partition with more devices than the limit still forms one group."""
    members = [Member(f"d{i}", 2) for i in range(5)] + [Member("x", 0)]
    grouping = _plan(members, max_devices=2)
    assert grouping.assignment["d0"] == grouping.assignment["d4"]
    assert len({grouping.assignment[f"d{i}"] for i in range(5)}) == 1
    assert sum(len(g.devices) for g in grouping.groups.values()) == 6


def test_grouping_is_deterministic_whatever_the_input_order() -> None:
    """Same members in another order give the same groups (restart safety)."""
    members = [Member(f"d{i}", i % 12, "lab" if i == 7 else None) for i in range(40)]
    assert _plan(members, max_devices=5) == _plan(list(reversed(members)), max_devices=5)


def test_auto_group_name() -> None:
    """Automatic names encode the partition range."""
    assert auto_group_name(4, 7) == "p4-7"
    assert auto_group_name(3, 3) == "p3"
