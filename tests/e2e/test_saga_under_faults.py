"""The credit saga under crashes (issue 17): a bounded load of concurrent orders for a few users
with small credit limits runs against the whole suite as real processes while the test SIGKILLs
billing, orders and the bridges, restarts NATS, loses commands and injects duplicate and late
deliveries; once the suite has settled, the databases must show the saga's invariants, with
exact counts printed.

Every fault happens at a point the test chooses: the placers place orders only up to a gate the
fault script opens, so each fault strikes after a known number of orders, with the next ones
being placed (and their sagas running) while the process is down."""

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from sqlalchemy import func, select

from tests.support.postgres import Postgres
from tests.support.processes import server_env
from tests.support.saga_faults import (
    SagaMessage,
    firsts,
    late_deliveries,
    lose,
    refused_released,
    saga_messages,
    send_late,
    store_again,
)
from tests.support.saga_invariants import (
    Engines,
    check_invariants,
    engines_of,
    rows,
    settled,
    unsettled,
)
from tests.support.saga_load import ORDERS, PLACERS, CreditWatch, Load
from tests.support.suite import Suite, running_suite
from tests.support.waiting import eventually
from usersuite.billing.adapters.db.tables import reservations
from usersuite.client import (
    BillingClient,
    CircuitBreaker,
    NotFound,
    OrderClient,
    UserClient,
)
from usersuite.orders.adapters.db.tables import orders
from usersuite.platform.db.tables import outbox
from usersuite.platform.nats.jetstream import connect

# Short saga timeouts, so re-sends, timeouts and compensations happen within the test: a
# ReserveCredit is sent twice (waits 2, then 4 s), then released (every 4 s until billing
# answers) and the order rejected. Shorter ones make a busy machine's billing fall behind its
# re-sends, and the backlog time everything out.
SAGA = {
    "USERSUITE_ORDERS__STEP_TIMEOUT_SECONDS": "2",
    "USERSUITE_ORDERS__MAX_WAIT_SECONDS": "4",
    "USERSUITE_ORDERS__MAX_ATTEMPTS": "2",
    "USERSUITE_ORDERS__SCAN_INTERVAL_SECONDS": "0.2",
}
CREDIT_LIMITS = (4_000, 6_000, 9_000, 12_000)
# Each fault strikes once this many orders were placed (the gates of the fault script).
STEP = 20
SETTLE_WITHIN = 90.0


@pytest.fixture
def suite(postgres: Postgres, tmp_path: Path) -> Iterator[Suite]:
    with running_suite(postgres, tmp_path, server_env, **SAGA) as running:
        yield running


async def timed_out_orders(engines: Engines) -> set[str]:
    """The orders whose saga gave up on billing (rejected with BILLING_TIMEOUT)."""
    query = select(orders.c.id).where(orders.c.rejection_reason == "BILLING_TIMEOUT")
    return {f"orders/{row.id}" for row in await rows(engines["orders"], query)}


async def all_sent(engines: Engines, names: set[str]) -> bool:
    """Orders' bridge has published every ReserveCredit of these orders."""
    query = (
        select(func.count())
        .select_from(outbox)
        .where(
            outbox.c.event_type == "billing.v1.ReserveCredit",
            outbox.c.aggregate_name.in_(names),
            outbox.c.state != "dispatched",
        )
    )
    return not (await rows(engines["orders"], query))[0][0]


async def none_pending(engines: Engines) -> bool:
    query = select(func.count()).select_from(orders).where(orders.c.state == "PENDING")
    return not (await rows(engines["orders"], query))[0][0]


async def faults(
    suite: Suite, load: Load, nc: Client, engines: Engines
) -> tuple[list[str], list[SagaMessage]]:
    """The fault script: each fault after the gate's orders were placed, the next gate opened
    while the process is down. Returns what it did, in order, and the messages it lost."""
    done: list[str] = []
    gate = STEP
    began = time.monotonic()

    def note(what: str) -> None:
        done.append(f"{time.monotonic() - began:5.1f}s {what}")

    async def next_gate() -> None:
        nonlocal gate
        gate += STEP
        await load.allow(gate)

    async def between(
        what: str, stops: list[Callable[[], None]], *starts: Callable[[], Any]
    ) -> None:
        await load.reach(gate)
        for stop in stops:
            stop()
        await next_gate()
        for restart in starts:
            await asyncio.to_thread(restart)
        note(f"{what} after {gate - STEP} orders")

    await load.allow(gate)
    await load.reach(gate)
    # The first orders decided without faults: some approved, some refused for want of credit.
    await eventually(lambda: none_pending(engines), within=60, what="the first orders decided")
    note(f"the first {gate} orders decided")
    # Billing down while the next orders are placed, until all their sagas gave up and
    # compensated.
    suite.kill_server("billing")
    await next_gate()
    await load.reach(gate)
    await eventually(lambda: none_pending(engines), within=60, what="the sagas timed out")
    # The compensated sagas' ReserveCredit commands lost before billing ever saw them: billing
    # meets their ReleaseCredit first and keeps a tombstone.
    gave_up = await timed_out_orders(engines)
    await eventually(lambda: all_sent(engines, gave_up), what="their commands in the stream")
    lost = [m for m in await saga_messages(nc) if m.kind == "ReserveCredit" and m.order in gave_up]
    await lose(nc, lost)
    await asyncio.to_thread(suite.start_server, "billing")
    note(
        f"SIGKILL billing after {gate - STEP} orders, restarted once the next {len(gave_up)} "
        f"sagas timed out; their {len(lost)} ReserveCredit lost"
    )
    await between(
        "SIGKILL the orders bridge",
        [lambda: suite.kill_bridge("orders")],
        lambda: suite.start_bridge("orders"),
    )
    await between(
        "SIGKILL orders",
        [lambda: suite.kill_server("orders")],
        lambda: suite.start_server("orders"),
    )
    await between("restart NATS", [suite.nats.stop], suite.nats.start)
    await between(
        "SIGKILL the billing and users bridges",
        [lambda: suite.kill_bridge("billing"), lambda: suite.kill_bridge("users")],
        lambda: suite.start_bridge("billing"),
        lambda: suite.start_bridge("users"),
    )
    await between(
        "SIGKILL orders and billing together",
        [lambda: suite.kill_server("orders"), lambda: suite.kill_server("billing")],
        lambda: suite.start_server("orders"),
        lambda: suite.start_server("billing"),
    )
    await load.reach(gate)
    stored = await saga_messages(nc)
    for message in stored[::4]:
        await store_again(nc, message)
    # Orders placed so far: most sagas ended, the latest still run; every third gets its first
    # command or reply again as a new message.
    late = firsts(stored)[::3]
    for message in late:
        await send_late(nc, message)
    await next_gate()
    note(
        f"{len(stored[::4])} saga messages stored again, {len(late)} sent late, "
        f"after {gate - STEP} orders"
    )
    return done, lost


async def tombstones_of(engines: Engines, names: set[str]) -> int:
    query = (
        select(func.count())
        .select_from(reservations)
        .where(
            reservations.c.order_name.in_(names),
            reservations.c.state == "RELEASED",
            reservations.c.reserve_command_id.is_(None),
        )
    )
    return int((await rows(engines["billing"], query))[0][0])


async def settle(nc: Client, engines: Engines) -> float:
    """Waits (bounded) until nothing moves any more; how long that took."""
    began = time.monotonic()
    try:
        await eventually(lambda: settled(nc, engines), within=SETTLE_WITHIN, what="settled")
    except TimeoutError:
        raise AssertionError(f"not settled: {await unsettled(nc, engines)}") from None
    return time.monotonic() - began


async def open_accounts(users: UserClient, billing: BillingClient) -> list[str]:
    """A user per credit limit; billing opens each account (UserCreated), then its limit is set."""
    names = []
    for index, limit in enumerate(CREDIT_LIMITS):
        user = await users.create_user(f"Buyer {index}", f"buyer{index}@example.com")
        account = user.name.replace("users/", "accounts/", 1)

        async def opened(account: str = account) -> bool:
            try:
                await billing.get_account(account)
            except NotFound:
                return False
            return True

        await eventually(opened, what=f"billing opened {account}")
        await billing.set_credit_limit(account, limit)
        names.append(user.name)
    return names


async def test_the_saga_keeps_its_invariants_under_crashes_and_odd_deliveries(
    suite: Suite,
) -> None:
    breaker = CircuitBreaker(failure_threshold=10**6)  # the test retries; never fail fast
    async with AsyncExitStack() as stack:
        users = await stack.enter_async_context(UserClient(suite.target("users")))
        billing = await stack.enter_async_context(
            BillingClient(suite.target("billing"), breaker=breaker)
        )
        client = await stack.enter_async_context(
            OrderClient(suite.target("orders"), breaker=breaker)
        )
        nc = await connect(suite.nats.url, "saga-faults", first_attempts=5)
        stack.push_async_callback(nc.close)
        engines = await stack.enter_async_context(engines_of(suite.urls))
        load = Load(client, await open_accounts(users, billing))
        watch = CreditWatch(engines["billing"])
        watching = asyncio.create_task(watch.run())
        stack.push_async_callback(watch.finish, watching)
        placers = [asyncio.create_task(load.placer(index)) for index in range(PLACERS)]
        for placer in placers:  # none outlives a failed test (the event loop is the session's)
            stack.callback(placer.cancel)
        script, lost = await faults(suite, load, nc, engines)
        await asyncio.gather(*placers)
        assert len(set(load.names)) == ORDERS

        settling = await settle(nc, engines)
        late = await late_deliveries(nc, lost)
        settling_late = await settle(nc, engines)
        await watch.finish(watching)
        found = await check_invariants(nc, engines)
        found.counts["faults"] = script
        found.counts["seconds to settle, then after the late ones"] = (
            round(settling, 1),
            round(settling_late, 1),
        )
        found.counts["credit snapshots during the run (violations)"] = (
            watch.samples,
            len(watch.violations),
        )
        found.violations += watch.violations
        found.counts["cancelled by the placers"] = len(load.cancelled)
        found.counts["injected after settling"] = dict(late)
        found.counts["reserves refused RELEASED (after release)"] = await refused_released(nc)
        print("\n" + found.report())
        assert not found.violations, found.report()
        states = found.counts["orders by state/reason"]
        assert sum(states.values()) == ORDERS
        assert states.get("CANCELLED/-") == len(load.cancelled) > 0
        assert states.get("REJECTED/CREDIT_LIMIT_EXCEEDED", 0) > 0
        assert states.get("REJECTED/BILLING_TIMEOUT", 0) > 0
        # Billing met each lost command's release first, and kept the tombstone that refused the
        # command when it came late.
        assert len({message.order for message in lost}) == STEP
        tombstones = await tombstones_of(engines, {message.order for message in lost})
        assert tombstones == len({message.order for message in lost}), tombstones
