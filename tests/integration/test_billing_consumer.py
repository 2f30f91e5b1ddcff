"""Billing's consumer on real PostgreSQL and nats-server, as `serve billing` runs it."""

# Accounts follow users, ReserveCredit and ReleaseCredit answer once per order, and the inbox, the
# effect and the reply commit together (a redelivery after the effect changes nothing).

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from billing.v1 import saga_pb2
from tests.support.billing import (
    outbox_messages,
    provision,
    publish,
    release_credit,
    replies,
    reserve_credit,
    reserved_minor,
    trace_contexts,
    user_created,
    user_deleted,
)
from tests.support.consuming import quick
from tests.support.nats import NatsServer
from tests.support.settings import make_settings
from tests.support.waiting import eventually, holds
from usersuite.billing.api.inbound import SUBJECTS
from usersuite.bootstrap.billing import DURABLE, BillingContainer, bootstrap_billing

LIMIT = 10_000
Refused = saga_pb2.CreditRefused


@pytest.fixture
async def billing_db(billing_pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(billing_pg_url)
    yield engine
    await engine.dispose()


def start_billing(
    url: str, nats_url: str, tracer_provider: TracerProvider | None = None, **consumer: Any
) -> BillingContainer:
    settings = make_settings(url, nats_url=nats_url, billing={"default_credit_limit_minor": LIMIT})
    container = bootstrap_billing(
        settings,
        consumer=quick(DURABLE, filter_subjects=SUBJECTS, **consumer),
        tracer_provider=tracer_provider,
    )
    for worker in container.background:
        worker.start()
    return container


async def stop_billing(container: BillingContainer) -> None:
    for worker in container.background:
        await worker.stop()
    await container.close()


@pytest.fixture
async def billing(
    billing_pg_url: str, nats_server: NatsServer, nc: Client
) -> AsyncIterator[BillingContainer]:
    await provision(nc)
    container = start_billing(billing_pg_url, nats_server.url)
    yield container
    await stop_billing(container)


def count_is(check: Callable[[], Awaitable[list[Any]]], n: int) -> Callable[[], Awaitable[bool]]:
    async def done() -> bool:
        return len(await check()) == n

    return done


async def open_account(nc: Client, engine: AsyncEngine, user_id: str = "ada") -> None:
    await publish(nc, user_created(user_id))
    await eventually(lambda: _has_account(engine, user_id), what="the account opened")


async def _has_account(engine: AsyncEngine, user_id: str) -> bool:
    return await reserved_minor(engine, user_id) is not None


async def test_user_created_opens_an_account_and_user_deleted_closes_it(
    billing: BillingContainer, billing_db: AsyncEngine, nc: Client
) -> None:
    await open_account(nc, billing_db)
    await publish(nc, user_deleted("ada"))
    await eventually(count_is(lambda: outbox_messages(billing_db), 2), what="AccountClosed")

    opened, closed = await outbox_messages(billing_db)
    assert (opened.event_type, closed.event_type) == (
        "billing.v1.AccountOpened",
        "billing.v1.AccountClosed",
    )
    assert opened.aggregate_name == "accounts/ada"
    assert opened.message.account.credit_limit_minor == LIMIT  # type: ignore[attr-defined]
    assert opened.message.account.currency_code == "EUR"  # type: ignore[attr-defined]


async def test_reserve_credit_answers_credit_reserved_with_the_commands_ids(
    billing: BillingContainer, billing_db: AsyncEngine, nc: Client
) -> None:
    await open_account(nc, billing_db)
    command = reserve_credit("orders/o1", "ada", 2500)
    await publish(nc, command)
    await eventually(count_is(lambda: replies(billing_db), 1), what="the reply")

    [reply] = await replies(billing_db)
    assert reply.event_type == "billing.v1.CreditReserved"
    assert reply.aggregate_name == "orders/o1"
    message = reply.message
    assert isinstance(message, saga_pb2.CreditReserved)
    assert (message.command_id, message.saga_id, message.order, message.amount_minor) == (
        command.command_id, command.saga_id, "orders/o1", 2500,
    )  # fmt: skip
    assert message.metadata.event_id == reply.event_id != command.metadata.event_id
    assert await reserved_minor(billing_db, "ada") == 2500


async def test_a_command_delivered_twice_has_one_effect(
    billing: BillingContainer, billing_db: AsyncEngine, nc: Client
) -> None:
    await open_account(nc, billing_db)
    command = reserve_credit("orders/o1", "ada", 2500)
    await publish(nc, command)
    # The same message again, past JetStream's duplicate window: the inbox drops it.
    await publish(nc, command, msg_id="another-stream-id")
    # The saga's retry: the same command id in a new message; answered again, reserved once.
    retry = saga_pb2.ReserveCredit()
    retry.CopyFrom(command)
    retry.metadata.event_id = "retry-of-o1"
    await publish(nc, retry)
    await eventually(count_is(lambda: replies(billing_db), 2), what="two replies")

    answers = [r.message for r in await replies(billing_db)]
    assert [type(a).__name__ for a in answers] == ["CreditReserved", "CreditReserved"]
    assert {a.command_id for a in answers} == {command.command_id}  # type: ignore[attr-defined]
    assert await reserved_minor(billing_db, "ada") == 2500


async def test_over_the_limit_is_refused(
    billing: BillingContainer, billing_db: AsyncEngine, nc: Client
) -> None:
    await open_account(nc, billing_db)
    await publish(nc, reserve_credit("orders/o1", "ada", LIMIT + 1))
    await publish(nc, reserve_credit("orders/o2", "nobody", 1))
    await eventually(count_is(lambda: replies(billing_db), 2), what="two refusals")

    reasons = [r.message.reason for r in await replies(billing_db)]  # type: ignore[attr-defined]
    assert reasons == [Refused.REASON_CREDIT_LIMIT_EXCEEDED, Refused.REASON_NO_ACCOUNT]
    assert await reserved_minor(billing_db, "ada") == 0


async def test_release_then_a_late_reserve_is_refused_as_released(
    billing: BillingContainer, billing_db: AsyncEngine, nc: Client
) -> None:
    await open_account(nc, billing_db)
    await publish(nc, reserve_credit("orders/o1", "ada", 2500))
    await publish(nc, release_credit("orders/o1"))
    # The saga timed out on o2 and compensated before its ReserveCredit arrived.
    await publish(nc, release_credit("orders/o2"))
    await publish(nc, reserve_credit("orders/o2", "ada", 100))
    await eventually(count_is(lambda: replies(billing_db), 4), what="four replies")

    answers = [(r.event_type, r.aggregate_name) for r in await replies(billing_db)]
    assert answers == [
        ("billing.v1.CreditReserved", "orders/o1"),
        ("billing.v1.CreditReleased", "orders/o1"),
        ("billing.v1.CreditReleased", "orders/o2"),
        ("billing.v1.CreditRefused", "orders/o2"),
    ]
    last = (await replies(billing_db))[-1].message
    assert last.reason == Refused.REASON_RELEASED  # type: ignore[attr-defined]
    assert await reserved_minor(billing_db, "ada") == 0


async def test_a_crash_after_the_effect_before_the_ack_redelivers_without_a_second_effect(
    billing_pg_url: str,
    billing_db: AsyncEngine,
    nats_server: NatsServer,
    nc: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await provision(nc)
    acked: list[tuple[str, int]] = []
    dropped: list[str] = []
    real_ack = Msg.ack

    async def ack_lost_once(msg: Msg) -> None:
        # The process "dies" between its commit and its acknowledgement, once.
        if msg.subject == "billing.v1.ReserveCredit" and not dropped:
            dropped.append(msg.subject)
            return
        acked.append((msg.subject, msg.metadata.num_delivered))
        await real_ack(msg)

    monkeypatch.setattr(Msg, "ack", ack_lost_once)
    container = start_billing(billing_pg_url, nats_server.url, ack_wait_seconds=1.0)
    try:
        await open_account(nc, billing_db)
        await publish(nc, reserve_credit("orders/o1", "ada", 2500))
        redelivered = ("billing.v1.ReserveCredit", 2)
        await eventually(holds(lambda: redelivered in acked), what="the redelivery acked")
    finally:
        await stop_billing(container)

    assert dropped == ["billing.v1.ReserveCredit"]
    assert [r.event_type for r in await replies(billing_db)] == ["billing.v1.CreditReserved"]
    assert await reserved_minor(billing_db, "ada") == 2500


async def test_the_reply_carries_the_commands_trace(
    billing_pg_url: str, billing_db: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    await provision(nc)
    container = start_billing(billing_pg_url, nats_server.url, TracerProvider())
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    try:
        await open_account(nc, billing_db)
        command = reserve_credit("orders/o1", "ada", 100)
        await publish(nc, command, headers={"traceparent": traceparent})
        await eventually(count_is(lambda: replies(billing_db), 1), what="the reply")
    finally:
        await stop_billing(container)

    reply_context = (await trace_contexts(billing_db))[-1]
    assert reply_context["traceparent"].split("-")[1] == trace_id
