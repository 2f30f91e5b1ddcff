"""The point-read coalescer: which reads share a query, and what a query failing or a caller
giving up does to the others. The fetch is a fake the test opens and closes itself."""

import asyncio

import pytest

from tests.support.gated_fetch import GatedFetch, settle
from usersuite.platform.db.coalescing import Coalescer
from usersuite.platform.service import request_context


async def test_a_lone_read_queries_at_once_and_the_reads_behind_it_share_one_query() -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch)
    reads = [asyncio.ensure_future(coalescer.get(key)) for key in ("x", "a", "b", "a", "missing")]
    await fetch.wait_for_query(1)
    assert fetch.calls == [["x"]]  # the first found nothing in flight: its own query
    await settle()
    assert coalescer.waiting == 4
    fetch.gates[0].set()
    await fetch.wait_for_query(2)
    fetch.gates[1].set()
    assert await asyncio.gather(*reads) == ["X", "A", "B", "A", None]
    assert fetch.calls == [["x"], ["a", "b", "missing"]]
    assert coalescer.queries == 2


async def test_a_read_arriving_while_a_query_is_in_flight_waits_for_the_next_query() -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch)
    first = asyncio.ensure_future(coalescer.get("a"))
    await fetch.wait_for_query(1)
    # The first query has started: these must not be answered by it, whatever it returns.
    later = [asyncio.ensure_future(coalescer.get(key)) for key in ("a", "b", "c")]
    await settle()
    assert len(fetch.calls) == 1  # at most one query in flight; the later reads wait
    fetch.gates[0].set()
    assert await first == "A"
    await fetch.wait_for_query(2)
    assert fetch.calls[1] == ["a", "b", "c"]
    assert not any(read.done() for read in later)
    fetch.gates[1].set()
    assert await asyncio.gather(*later) == ["A", "B", "C"]


async def test_in_flight_bounds_concurrent_queries() -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch, in_flight=2)
    first = asyncio.ensure_future(coalescer.get("a"))
    await fetch.wait_for_query(1)
    second = asyncio.ensure_future(coalescer.get("b"))
    await fetch.wait_for_query(2)
    third = asyncio.ensure_future(coalescer.get("c"))
    await settle()
    assert len(fetch.calls) == 2
    fetch.gates[1].set()
    assert await second == "B"
    await fetch.wait_for_query(3)
    fetch.gates[0].set()
    fetch.gates[2].set()
    assert (await first, await third) == ("A", "C")


async def occupied(
    coalescer: Coalescer[str, str], fetch: GatedFetch
) -> "asyncio.Future[str | None]":
    """A read whose query the test holds in flight, so the next reads queue behind it."""
    read = asyncio.ensure_future(coalescer.get("blocker"))
    await fetch.wait_for_query(len(fetch.calls) + 1)
    return read


async def test_a_failed_query_fails_each_of_its_reads_and_the_next_query_still_runs() -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch)
    blocker = await occupied(coalescer, fetch)
    fetch.fail = ConnectionError("the database is gone")
    reads = [asyncio.ensure_future(coalescer.get(key)) for key in ("a", "b")]
    await settle()
    fetch.gates[0].set()
    with pytest.raises(ConnectionError):
        await blocker
    await fetch.wait_for_query(2)
    assert fetch.calls[1] == ["a", "b"]
    fetch.gates[1].set()
    for read in reads:
        with pytest.raises(ConnectionError):
            await read
    fetch.fail = None
    again = asyncio.ensure_future(coalescer.get("a"))
    await fetch.wait_for_query(3)
    fetch.gates[2].set()
    assert await again == "A"


async def test_a_caller_that_gives_up_leaves_the_others_their_answer() -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch)
    blocker = await occupied(coalescer, fetch)
    leaving = asyncio.ensure_future(coalescer.get("a"))
    staying = asyncio.ensure_future(coalescer.get("a"))
    await settle()
    fetch.gates[0].set()
    await fetch.wait_for_query(2)  # the two reads' shared query is in flight
    leaving.cancel()
    await settle()
    fetch.gates[1].set()
    assert await staying == "A"
    assert leaving.cancelled()
    assert await blocker == "BLOCKER"


@pytest.mark.parametrize(
    ("earliest", "expected"),
    [
        # Reads: each shared query under the latest deadline, and no deadline wins.
        (False, [None, 30.0, None, None]),
        # Writes (the group commit): under the earliest, and no deadline only when none has one.
        (True, [None, 10.0, None, 10.0]),
    ],
)
async def test_a_query_runs_under_its_callers_latest_or_earliest_deadline(
    earliest: bool, expected: list[float | None]
) -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch, earliest_deadline=earliest)

    async def read(key: str, deadline: float | None) -> str | None:
        request_context.deadline.set(deadline)
        return await coalescer.get(key)

    for index, deadlines in enumerate(((10.0, 30.0), (10.0, None))):
        blocker = await occupied(coalescer, fetch)
        reads = [asyncio.ensure_future(read(k, d)) for k, d in zip("ab", deadlines, strict=True)]
        await settle()
        fetch.gates[2 * index].set()
        await fetch.wait_for_query(2 * index + 2)
        fetch.gates[2 * index + 1].set()
        await asyncio.gather(blocker, *reads)
    # The lone blocker queries under its own (no) deadline.
    assert fetch.deadlines == expected
    assert fetch.calls == [["blocker"], ["a", "b"], ["blocker"], ["a", "b"]]


async def test_keys_beyond_one_batch_go_to_the_next_query() -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch, in_flight=1, max_batch=2)
    blocker = await occupied(coalescer, fetch)
    reads = [asyncio.ensure_future(coalescer.get(key)) for key in ("a", "b", "c")]
    await settle()
    fetch.gates[0].set()
    await fetch.wait_for_query(2)
    fetch.gates[1].set()
    await fetch.wait_for_query(3)
    fetch.gates[2].set()
    assert await asyncio.gather(blocker, *reads) == ["BLOCKER", "A", "B", "C"]
    assert fetch.calls == [["blocker"], ["a", "b"], ["c"]]
