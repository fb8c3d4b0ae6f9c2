"""The ingest service's read-ahead: chunks parsed in a background thread while the previous one is written."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from reelrank.errors import SnapshotFormatError
from reelrank.services.ingest import prefetched


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "snapshot-reader"]


def test_items_arrive_in_order_and_the_reader_thread_ends() -> None:
    # Given a producer of 50 items, When they are consumed through prefetched
    got = list(prefetched(iter(range(50)), depth=2))

    # Then every item arrives once, in order, and no reader thread is left behind
    assert got == list(range(50))
    assert _readers() == []


def test_a_producer_error_is_raised_after_the_items_before_it() -> None:
    # Given a producer that fails on its fourth item
    def produce() -> Iterator[int]:
        yield from (1, 2, 3)
        raise SnapshotFormatError("line 4: not JSON")

    # When consumed, Then the three good items come first and the error is re-raised in the consumer
    stream = prefetched(produce())
    assert [next(stream), next(stream), next(stream)] == [1, 2, 3]
    with pytest.raises(SnapshotFormatError, match="line 4"):
        next(stream)


def test_a_consumer_that_stops_early_stops_the_producer() -> None:
    # Given an endless producer
    produced: list[int] = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    # When the consumer takes three items and closes the generator
    stream = prefetched(endless(), depth=2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()

    # Then the producer stopped within the read-ahead bound and its thread is gone
    assert len(produced) <= 3 + 2 + 1
    assert _readers() == []
