"""The credit saga's invariants, read straight from the orders and billing databases (and the
stream's consumers) once the suite has settled: what each order holds, what each account
reserved, and that no command or reply took effect twice."""

import json
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.js.errors import NotFoundError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.support.events import stream_messages
from usersuite.billing.adapters.db.tables import accounts, reservations
from usersuite.orders.adapters.db.tables import orders, sagas
from usersuite.platform.db.tables import inbox, outbox

STREAM = "USER_V1"
DEAD_LETTERS = "USER_V1_DLQ"
CONSUMERS = ("orders", "billing")
ORDER_EVENTS = ("OrderCreated", "OrderApproved", "OrderRejected", "OrderCancelled")
# The order events each final state leaves in orders' outbox, exactly once each.
EVENTS_OF_STATE = {
    "APPROVED": ("OrderCreated", "OrderApproved"),
    "REJECTED": ("OrderCreated", "OrderRejected"),
    "CANCELLED": ("OrderCreated", "OrderApproved", "OrderCancelled"),
}


Engines = dict[str, AsyncEngine]


@asynccontextmanager
async def engines_of(urls: dict[str, str]) -> AsyncIterator[Engines]:
    """An engine per service database, kept for the polls of `settled` and the checks."""
    engines = {service: create_async_engine(url, pool_size=2) for service, url in urls.items()}
    try:
        yield engines
    finally:
        for engine in engines.values():
            await engine.dispose()


async def rows(engine: AsyncEngine, query: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def unsettled(nc: Client, engines: Engines) -> str:
    """What still moves ("" once settled): orders PENDING, sagas waiting, outbox rows not yet
    relayed, messages a consumer has not had or not acknowledged."""
    count = select(func.count())
    waiting = await rows(
        engines["orders"], count.select_from(orders).where(orders.c.state == "PENDING")
    )
    active = await rows(engines["orders"], count.select_from(sagas).where(sagas.c.step != "DONE"))
    moving = [f"{waiting[0][0]} orders PENDING", f"{active[0][0]} sagas waiting"]
    for service, engine in engines.items():
        unsent = count.select_from(outbox).where(outbox.c.state != "dispatched")
        moving.append(f"{(await rows(engine, unsent))[0][0]} {service} outbox rows unsent")
    js = nc.jetstream()
    for durable in CONSUMERS:
        info = await js.consumer_info(STREAM, durable)
        moving.append(f"consumer {durable}: {info.num_pending} pending, "
                      f"{info.num_ack_pending} unacknowledged")  # fmt: skip
    busy = [what for what in moving if not what.startswith("0 ") and " 0 pending, 0 " not in what]
    return "; ".join(busy)


async def settled(nc: Client, engines: Engines) -> bool:
    return not await unsettled(nc, engines)


@dataclass
class Findings:
    """Exact counts, and every invariant that failed (empty when all hold)."""

    counts: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def expect(self, holds: bool, violation: str) -> None:
        if not holds:
            self.violations.append(violation)

    def report(self) -> str:
        lines = [f"{key}: {value}" for key, value in self.counts.items()]
        lines += [f"VIOLATION {violation}" for violation in self.violations[:50]]
        return "\n".join(lines)


def order_total(line_items: str) -> int:
    return sum(item["quantity"] * item["unit_price_minor"] for item in json.loads(line_items))


async def check_orders(found: Findings, engines: Engines) -> dict[str, Any]:
    """Every order final, its sagas ended with one reply each, its events exactly once."""
    order_rows = await rows(engines["orders"], select(orders))
    by_id = {row.id: row for row in order_rows}
    found.counts["orders by state/reason"] = dict(
        sorted(Counter(f"{row.state}/{row.rejection_reason or '-'}" for row in order_rows).items())
    )
    saga_rows = await rows(engines["orders"], select(sagas))
    kinds: dict[str, list[str]] = defaultdict(list)
    resent = timeouts = 0
    for saga in saga_rows:
        kinds[saga.order_id].append(saga.kind)
        timeline = json.loads(saga.timeline)
        replies = [entry for entry in timeline if entry["event"] == "REPLIED"]
        resent += sum(entry["event"] == "RESENT" for entry in timeline)
        timeouts += sum(entry["event"] == "TIMED_OUT" for entry in timeline)
        found.expect(
            saga.step == "DONE" and saga.deadline is None and not saga.parked,
            f"saga {saga.saga_id} of {saga.order_id} still {saga.step} (deadline {saga.deadline})",
        )
        found.expect(
            len(replies) == 1 and timeline[-1]["event"] == "REPLIED",
            f"saga {saga.saga_id} of {saga.order_id}: {len(replies)} replies applied",
        )
    found.counts["sagas by kind"] = dict(Counter(saga.kind for saga in saga_rows))
    found.counts["saga re-sends / timeouts (compensations)"] = (resent, timeouts)
    for order in order_rows:
        expected = ["CREATE", "CANCEL"] if order.state == "CANCELLED" else ["CREATE"]
        found.expect(
            sorted(kinds[order.id], reverse=True) == expected,
            f"order {order.id} ({order.state}) has sagas {kinds[order.id]}",
        )
    events = await rows(
        engines["orders"], select(outbox.c.event_type, outbox.c.aggregate_name, outbox.c.payload)
    )
    per_order: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        package, _, name = event.event_type.rpartition(".")
        if package == "order.v1" and name in ORDER_EVENTS:
            per_order[event.aggregate_name.removeprefix("orders/")][name] += 1
    for order in order_rows:
        want = Counter(EVENTS_OF_STATE.get(order.state, ()))
        found.expect(
            per_order[order.id] == want,
            f"order {order.id} ({order.state}) has events {dict(per_order[order.id])}",
        )
    found.expect(set(per_order) <= set(by_id), "order events for orders that do not exist")
    return by_id


async def check_billing(found: Findings, engines: Engines, by_id: dict[str, Any]) -> None:
    """Approved orders hold one active reservation of their total; nothing else holds any; every
    account's reserved credit is the sum of its active reservations, within its limit."""
    reservation_rows = await rows(engines["billing"], select(reservations))
    found.counts["reservations by state"] = dict(
        Counter(
            "TOMBSTONE" if row.state == "RELEASED" and row.reserve_command_id is None else row.state
            for row in reservation_rows
        )
    )
    held = {row.order_name.removeprefix("orders/"): row for row in reservation_rows}
    for order_id, order in by_id.items():
        reservation = held.get(order_id)
        active = reservation is not None and reservation.state == "ACTIVE"
        if order.state == "APPROVED":
            found.expect(
                reservation is not None
                and active
                and reservation.amount_minor == order_total(order.line_items)
                and reservation.user_id == order.user_id,
                f"approved order {order_id} holds {reservation}",
            )
        else:
            found.expect(not active, f"{order.state} order {order_id} holds {reservation}")
    found.expect(set(held) <= set(by_id), "reservations for orders that do not exist")
    account_rows, problems = await credit_snapshot(engines["billing"])
    found.counts["accounts (reserved/limit)"] = {
        row.user_id: f"{row.reserved_minor}/{row.credit_limit_minor}" for row in account_rows
    }
    found.violations += problems


async def credit_snapshot(engine: AsyncEngine) -> tuple[list[Any], list[str]]:
    """The accounts, and how any of them breaks the credit invariant, read in one snapshot (a
    reservation and its account's total commit together, so any snapshot must show them equal):
    reserved credit equals the sum of the account's active reservations and is within its limit."""
    active = (
        select(reservations.c.user_id, func.sum(reservations.c.amount_minor).label("total"))
        .where(reservations.c.state == "ACTIVE")
        .group_by(reservations.c.user_id)
    )
    async with engine.connect() as conn:
        snapshot = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with snapshot.begin():
            account_rows = list((await snapshot.execute(select(accounts))).all())
            sums = {row.user_id: int(row.total) for row in await snapshot.execute(active)}
    problems = []
    for account in account_rows:
        held = sums.get(account.user_id, 0)
        if account.reserved_minor != held:
            problems.append(
                f"account {account.user_id} reserves {account.reserved_minor}, "
                f"its active reservations {held}"
            )
        if not 0 <= account.reserved_minor <= account.credit_limit_minor:
            problems.append(
                f"account {account.user_id} reserves {account.reserved_minor} "
                f"of {account.credit_limit_minor}"
            )
    return account_rows, problems


async def check_deliveries(found: Findings, nc: Client, engines: Engines) -> None:
    """Every message each consumer subscribes to was handled exactly once (its inbox holds
    each id once), however often the stream holds it; nothing was dead-lettered."""
    js = nc.jetstream()
    messages = await stream_messages(nc)
    stored: dict[str, Counter[str]] = {}
    for durable in CONSUMERS:
        config = (await js.consumer_info(STREAM, durable)).config
        subjects = set(config.filter_subjects or [config.filter_subject])
        stored[durable] = Counter(
            message.headers.get("ce-id", message.headers.get("Nats-Msg-Id", ""))
            for message in messages
            if message.subject in subjects
        )
        handled = await rows(
            engines[durable], select(inbox.c.event_id).where(inbox.c.consumer == durable)
        )
        ids = [row.event_id for row in handled]
        found.expect(
            set(ids) == set(stored[durable]),
            f"consumer {durable}: inbox and stream differ by "
            f"{len(set(ids) ^ set(stored[durable]))} ids",
        )
        duplicates = sum(count - 1 for count in stored[durable].values())
        found.counts[f"{durable}: messages handled / duplicates absorbed"] = (len(ids), duplicates)
    try:
        dead = (await js.stream_info(DEAD_LETTERS)).state.messages
    except NotFoundError:
        dead = 0
    found.counts["dead letters"] = dead
    found.expect(dead == 0, f"{dead} messages dead-lettered")


async def check_invariants(nc: Client, engines: Engines) -> Findings:
    found = Findings()
    by_id = await check_orders(found, engines)
    await check_billing(found, engines, by_id)
    await check_deliveries(found, nc, engines)
    return found
