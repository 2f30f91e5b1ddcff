"""The coalescer's window: once reads have lately shared queries, a read that finds nothing in
flight waits for company (until as many wait as the largest recent query answered, or the window
ends); a lone caller's reads never wait. The fetch is a fake the test opens and closes itself,
and the window is an hour where only the company rule may start a query."""

import asyncio

import pytest

from tests.support.gated_fetch import GatedFetch, settle
from usersuite.platform.db import coalescing
from usersuite.platform.db.coalescing import Coalescer

HOUR = 3600.0
PERIOD = 0.05


@pytest.fixture(autouse=True)
def lasting_company(monkeypatch: pytest.MonkeyPatch) -> None:
    """What reads shared stays recent for the whole test (the test decides, not the clock)."""
    monkeypatch.setattr(coalescing, "PEAK_PERIOD_SECONDS", HOUR)


async def shared_by_two(coalescer: Coalescer[str, str], fetch: GatedFetch) -> None:
    """One query answers two reads: reads have lately shared queries, two at most."""
    first = asyncio.ensure_future(coalescer.get("first"))
    await fetch.wait_for_query(len(fetch.calls) + 1)
    pair = [asyncio.ensure_future(coalescer.get(key)) for key in ("p", "q")]
    await settle()
    fetch.gates[-1].set()
    assert await first == "FIRST"
    await fetch.wait_for_query(len(fetch.calls) + 1)
    assert fetch.calls[-1] == ["p", "q"]
    fetch.gates[-1].set()
    assert await asyncio.gather(*pair) == ["P", "Q"]


async def test_a_lone_callers_reads_never_wait_for_company() -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch, window_seconds=HOUR)
    for number, key in enumerate(("a", "b", "c"), start=1):
        read = asyncio.ensure_future(coalescer.get(key))
        await settle()
        assert len(fetch.calls) == number  # its own query, at once
        fetch.gates[-1].set()
        assert await read == key.upper()


async def test_after_shared_queries_a_read_waits_until_as_many_wait_as_one_query_answered() -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch, window_seconds=HOUR)
    await shared_by_two(coalescer, fetch)
    queries = len(fetch.calls)
    waiting = asyncio.ensure_future(coalescer.get("x"))
    await settle()
    assert len(fetch.calls) == queries  # waits for company
    assert coalescer.waiting == 1
    assert not waiting.done()
    second = asyncio.ensure_future(coalescer.get("y"))
    await fetch.wait_for_query(queries + 1)
    assert fetch.calls[-1] == ["x", "y"]
    fetch.gates[-1].set()
    assert (await waiting, await second) == ("X", "Y")


async def test_the_window_ends_a_wait_for_company_that_does_not_come() -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch, window_seconds=0.01)
    await shared_by_two(coalescer, fetch)
    queries = len(fetch.calls)
    alone = asyncio.ensure_future(coalescer.get("x"))
    await fetch.wait_for_query(queries + 1)  # only the window's end can start it
    assert fetch.calls[-1] == ["x"]
    fetch.gates[-1].set()
    assert await alone == "X"


async def test_without_a_window_a_read_after_shared_queries_queries_at_once() -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch)
    await shared_by_two(coalescer, fetch)
    read = asyncio.ensure_future(coalescer.get("x"))
    await settle()
    assert fetch.calls[-1] == ["x"]
    fetch.gates[-1].set()
    assert await read == "X"


async def test_what_reads_shared_stops_counting_two_periods_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(coalescing, "PEAK_PERIOD_SECONDS", PERIOD)
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(fetch, window_seconds=HOUR)
    await shared_by_two(coalescer, fetch)
    await asyncio.sleep(2 * PERIOD)  # two periods, at least, without a shared query
    read = asyncio.ensure_future(coalescer.get("x"))
    await settle()
    assert fetch.calls[-1] == ["x"]  # at once: no company expected any more
    fetch.gates[-1].set()
    assert await read == "X"


@pytest.mark.parametrize("gather", [False, True])
async def test_gathering_after_a_query_the_reads_left_waiting_wait_for_company(
    gather: bool,
) -> None:
    fetch = GatedFetch()
    coalescer: Coalescer[str, str] = Coalescer(
        fetch, window_seconds=HOUR, gather_after_query=gather
    )
    await shared_by_two(coalescer, fetch)
    first = asyncio.ensure_future(coalescer.get("a"))
    await settle()
    second = asyncio.ensure_future(coalescer.get("b"))  # two wait: company enough
    await fetch.wait_for_query(len(fetch.calls) + 1)
    behind = asyncio.ensure_future(coalescer.get("c"))  # one waits behind the query
    await settle()
    queries = len(fetch.calls)
    fetch.gates[-1].set()
    assert (await first, await second) == ("A", "B")
    await settle()
    if not gather:
        assert len(fetch.calls) == queries + 1  # the next query at once, for one read
        fetch.gates[-1].set()
        assert await behind == "C"
        return
    assert len(fetch.calls) == queries  # one waits for company, up to the window
    assert not behind.done()
    other = asyncio.ensure_future(coalescer.get("d"))
    await fetch.wait_for_query(queries + 1)  # as many wait as a query lately answered
    assert fetch.calls[-1] == ["c", "d"]
    fetch.gates[-1].set()
    assert (await behind, await other) == ("C", "D")


def test_a_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="no negative window"):
        Coalescer(GatedFetch(), window_seconds=-0.001)
