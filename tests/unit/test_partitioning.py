"""The device-to-partition function matches Kafka's Java default partitioner."""

import pytest

from flead.partitioning import murmur2, partition_for

pytestmark = pytest.mark.unit


def test_murmur2_matches_kafka_reference_vectors() -> None:
    """Vectors from Kafka's UtilsTest.testMurmur2 (signed ints there, unsigned here)."""
    vectors = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        bytes([ord("a"), ord("b"), ord("c")]): 479470107,
    }
    for data, signed in vectors.items():
        assert murmur2(data) == signed & 0xFFFFFFFF, data


def test_partition_is_stable_and_in_range() -> None:
    """The same id always maps to the same partition, within [0, n)."""
    for n in (1, 7, 12, 64):
        parts = [partition_for(str(d), n) for d in range(1, 55)]
        assert parts == [partition_for(str(d), n) for d in range(1, 55)]
        assert all(0 <= p < n for p in parts)


def test_partition_rejects_zero_partitions() -> None:
    """A topic cannot have zero partitions."""
    with pytest.raises(ValueError, match="partitions"):
        partition_for("1", 0)
