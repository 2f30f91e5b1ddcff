"""The credit saga end to end inside one process: the orders API, its relay, its reply consumer
and deadline scanner on real PostgreSQL and nats-server; billing is played by the test, which
reads the commands off JetStream and publishes the replies."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from billing.v1 import saga_pb2
from order.v1 import order_pb2
from tests.support.consuming import running
from tests.support.nats import NatsServer
from tests.support.orders_saga import (
    commands_of,
    events_of,
    inbox_has,
    new_order,
    orders_settings,
    outbox_types,
    publish,
    refused,
    relaying_orders,
    released,
    replies_settled,
    reserved,
    saga_steps,
    serving_orders,
    stored_order,
)
from tests.support.postgres import Postgres
from tests.support.waiting import eventually
from usersuite.orders.adapters.db.schema import migrations
from usersuite.platform.config import BridgeSettings, StreamSettings
from usersuite.platform.consumer import Consumer, Outcome
from usersuite.platform.db.dialect import as_utc
from usersuite.platform.db.tables import outbox
from usersuite.platform.nats.jetstream import ensure_stream
from usersuite.platform.nats.messages import headers_for
from usersuite.platform.service.outbox import OutboxRow

State = order_pb2.Order.State


@pytest.fixture(params=["postgresql", "sqlite"])
def orders_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Orders' database, migrated: PostgreSQL, and SQLite (one process serves it)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
        migrations.upgrade(url)
        yield url
        return
    postgres: Postgres = request.getfixturevalue("postgres")
    url = postgres.empty_database()
    migrations.upgrade(url)
    yield url
    postgres.drop_database(url)


async def test_reserved_credit_approves_the_order(
    orders_url: str, nats_server: NatsServer, nc: Client
) -> None:
    settings = orders_settings(orders_url, nats_server.url)
    async with serving_orders(settings) as api, relaying_orders(orders_url, nats_server.url):
        order = await api.stub.CreateOrder(new_order(order_id="first-order"))
        assert order.state == State.STATE_PENDING
        assert order.total_minor == 2500

        await eventually(lambda: has(nc, "ReserveCredit", order.name, 1), what="ReserveCredit")
        [command] = await commands_of(nc, "ReserveCredit", order.name)
        assert command.account == "accounts/ada-lovelace"
        assert command.amount_minor == 2500
        assert command.currency_code == "EUR"
        await publish(nc, reserved(command))

        await eventually(lambda: state_is(orders_url, "first-order", "APPROVED"))
        got = await api.stub.GetOrder(order_pb2.GetOrderRequest(name=order.name))
        assert got.state == State.STATE_APPROVED
        await eventually(lambda: event_count(nc, "order.v1.OrderApproved", 1))
        assert len(await events_of(nc, "order.v1.OrderCreated")) == 1
        registry = api.container.registry
        started = registry.get_sample_value(
            "usersuite_orders_sagas_started_total", {"kind": "CREATE"}
        )
        assert started == 1
        assert registry.get_sample_value("usersuite_orders_approved_total") == 1
        step = {"step": "RESERVE_CREDIT"}
        assert registry.get_sample_value("usersuite_orders_saga_step_seconds_count", step) == 1
    assert await saga_steps(orders_url, "first-order") == [("CREATE", "DONE")]


async def test_refused_credit_rejects_with_the_reason(
    orders_url: str, nats_server: NatsServer, nc: Client
) -> None:
    settings = orders_settings(orders_url, nats_server.url)
    async with serving_orders(settings) as api, relaying_orders(orders_url, nats_server.url):
        order = await api.stub.CreateOrder(new_order(order_id="too-expensive"))
        await eventually(lambda: has(nc, "ReserveCredit", order.name, 1))
        [command] = await commands_of(nc, "ReserveCredit", order.name)
        limit = saga_pb2.CreditRefused.Reason.REASON_CREDIT_LIMIT_EXCEEDED
        await publish(nc, refused(command, limit))

        await eventually(lambda: state_is(orders_url, "too-expensive", "REJECTED"))
        got = await api.stub.GetOrder(order_pb2.GetOrderRequest(name=order.name))
        reason = order_pb2.Order.RejectionReason.REJECTION_REASON_CREDIT_LIMIT_EXCEEDED
        assert got.rejection_reason == reason
        await eventually(lambda: event_count(nc, "order.v1.OrderRejected", 1))


async def test_no_reply_resends_the_same_command_then_compensates(
    orders_url: str, nats_server: NatsServer, nc: Client
) -> None:
    # Tiny waits: billing never answers the reservation, so the saga retries and gives up.
    settings = orders_settings(
        orders_url, nats_server.url, step_timeout_seconds=0.1, max_wait_seconds=0.1,
        backoff_multiplier=1, max_attempts=3,
    )  # fmt: skip
    async with serving_orders(settings) as api, relaying_orders(orders_url, nats_server.url):
        order = await api.stub.CreateOrder(new_order(order_id="never-answered"))
        await eventually(lambda: has(nc, "ReleaseCredit", order.name, 1), what="compensation")

        sent = await commands_of(nc, "ReserveCredit", order.name)
        assert len(sent) == 3
        assert len({command.command_id for command in sent}) == 1
        assert len({command.metadata.event_id for command in sent}) == 3
        # The release is re-sent every 0.1 s until billing answers: every send is one command.
        releases = await commands_of(nc, "ReleaseCredit", order.name)
        assert len({command.command_id for command in releases}) == 1
        release = releases[0]
        assert release.command_id != sent[0].command_id
        assert await stored_order(orders_url, "never-answered") == (
            "REJECTED", "BILLING_TIMEOUT", 2,
        )  # fmt: skip
        # A late CreditReserved of the first command is stale now: the order stays rejected.
        await publish(nc, reserved(sent[0]))
        await publish(nc, released(release))
        await eventually(lambda: saga_is(orders_url, "never-answered", [("CREATE", "DONE")]))
        assert await stored_order(orders_url, "never-answered") == (
            "REJECTED", "BILLING_TIMEOUT", 2,
        )  # fmt: skip
        assert len(await events_of(nc, "order.v1.OrderRejected")) == 1
        registry = api.container.registry
        assert registry.get_sample_value("usersuite_orders_sagas_compensated_total") == 1
        reason = {"reason": "BILLING_TIMEOUT"}
        assert registry.get_sample_value("usersuite_orders_rejected_total", reason) == 1


async def test_a_duplicate_reply_has_one_effect_and_a_stale_one_none(
    orders_url: str, nats_server: NatsServer, nc: Client
) -> None:
    settings = orders_settings(orders_url, nats_server.url)
    async with serving_orders(settings) as api, relaying_orders(orders_url, nats_server.url):
        order = await api.stub.CreateOrder(new_order(order_id="twice-told"))
        await eventually(lambda: has(nc, "ReserveCredit", order.name, 1))
        [command] = await commands_of(nc, "ReserveCredit", order.name)

        stale = reserved(command)
        stale.command_id = "00000000-0000-4000-8000-000000000000"
        stale_id = await publish(nc, stale)
        await eventually(lambda: inbox_has(orders_url, stale_id), what="the stale reply settled")
        assert await stored_order(orders_url, "twice-told") == ("PENDING", None, 1)

        answer = reserved(command)
        first = await publish(nc, answer, dedup=False)
        await publish(nc, answer, dedup=False)
        # The same reply again under a new message id (billing answering a repeat): stale.
        answer.metadata.event_id = "11111111-1111-4111-8111-111111111111"
        repeat = await publish(nc, answer)
        await eventually(lambda: inbox_has(orders_url, first, repeat), what="every reply settled")
        await eventually(lambda: replies_settled(nc), what="every reply acked")

        assert await stored_order(orders_url, "twice-told") == ("APPROVED", None, 2)
        assert (await outbox_types(orders_url)).count("order.v1.OrderApproved") == 1


async def test_cancel_releases_the_credit(
    orders_url: str, nats_server: NatsServer, nc: Client
) -> None:
    settings = orders_settings(orders_url, nats_server.url)
    async with serving_orders(settings) as api, relaying_orders(orders_url, nats_server.url):
        order = await api.stub.CreateOrder(new_order(order_id="changed-mind"))
        await eventually(lambda: has(nc, "ReserveCredit", order.name, 1))
        [command] = await commands_of(nc, "ReserveCredit", order.name)
        await publish(nc, reserved(command))
        await eventually(lambda: state_is(orders_url, "changed-mind", "APPROVED"))

        cancelled = await api.stub.CancelOrder(order_pb2.CancelOrderRequest(name=order.name))
        assert cancelled.state == State.STATE_CANCELLED
        await eventually(lambda: has(nc, "ReleaseCredit", order.name, 1))
        [release] = await commands_of(nc, "ReleaseCredit", order.name)
        await publish(nc, released(release))
        done = [("CREATE", "DONE"), ("CANCEL", "DONE")]
        await eventually(lambda: saga_is(orders_url, "changed-mind", done))
        await eventually(lambda: event_count(nc, "order.v1.OrderCancelled", 1))


async def test_a_crash_after_the_commit_before_publishing_loses_nothing(
    orders_url: str, nats_server: NatsServer, nc: Client
) -> None:
    """The order, its saga and its ReserveCredit are committed together: with no relay running
    (the process died before publishing), the command waits in the outbox for the next one."""
    settings = orders_settings(orders_url, nats_server.url)
    async with serving_orders(settings, background=False) as api:
        order = await api.stub.CreateOrder(new_order(order_id="before-publish"))
    assert await stored_order(orders_url, "before-publish") == ("PENDING", None, 1)

    async with serving_orders(settings) as api, relaying_orders(orders_url, nats_server.url):
        await eventually(lambda: has(nc, "ReserveCredit", order.name, 1))
        [command] = await commands_of(nc, "ReserveCredit", order.name)
        await publish(nc, reserved(command))
        await eventually(lambda: state_is(orders_url, "before-publish", "APPROVED"))


async def test_a_relay_crash_after_publishing_before_the_mark_sends_the_command_once(
    orders_url: str, nats_server: NatsServer, nc: Client
) -> None:
    """A relay published the order's messages and died before marking them: the next relay
    publishes them again under the same Nats-Msg-Id, and JetStream keeps one copy."""
    settings = orders_settings(orders_url, nats_server.url)
    async with serving_orders(settings, background=False) as api:
        order = await api.stub.CreateOrder(new_order(order_id="before-mark"))
    js = nc.jetstream()
    await ensure_stream(js, StreamSettings())
    unmarked = await pending_rows(orders_url)
    assert [row.event_type for row in unmarked] == [
        "order.v1.OrderCreated",
        "billing.v1.ReserveCredit",
    ]
    source = BridgeSettings().cloudevents_source
    for row in unmarked:  # what the relay that died had published
        await js.publish(row.event_type, row.payload, headers=headers_for(row, source))

    async with serving_orders(settings) as api, relaying_orders(orders_url, nats_server.url):
        await eventually(lambda: outbox_drained(orders_url), what="the rows marked")
        assert len(await commands_of(nc, "ReserveCredit", order.name)) == 1
        [command] = await commands_of(nc, "ReserveCredit", order.name)
        await publish(nc, reserved(command))
        await eventually(lambda: state_is(orders_url, "before-mark", "APPROVED"))
    assert len(await events_of(nc, "order.v1.OrderCreated")) == 1


async def pending_rows(url: str) -> list[OutboxRow]:
    """The rows a relay would claim, oldest first."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(outbox).where(outbox.c.state == "pending").order_by(outbox.c.seq)
            )
            return [
                OutboxRow(r.seq, r.event_id, r.event_type, r.aggregate_name, r.aggregate_version,
                          bytes(r.payload), {}, r.principal, as_utc(r.occurred_time), r.attempts)
                for r in rows
            ]  # fmt: skip
    finally:
        await engine.dispose()


async def outbox_drained(url: str) -> bool:
    return await pending_rows(url) == []


async def test_a_crash_after_the_consumers_effect_before_its_ack_has_one_effect(
    orders_url: str, nats_server: NatsServer, nc: Client
) -> None:
    """The reply's effect and its inbox row commit together; the ack is lost (the process died
    right after the commit): JetStream delivers the reply again, and the inbox stops it."""
    settings = orders_settings(orders_url, nats_server.url)
    async with (
        serving_orders(settings, background=False) as api,
        relaying_orders(orders_url, nats_server.url),
    ):
        order = await api.stub.CreateOrder(new_order(order_id="ack-lost"))
        await eventually(lambda: has(nc, "ReserveCredit", order.name, 1))
        [command] = await commands_of(nc, "ReserveCredit", order.name)
        await publish(nc, reserved(command))

        worker = api.background[0]
        quick_redelivery = worker._settings.model_copy(update={"ack_wait_seconds": 0.5})
        consumer = Consumer(nc, api.container.engine, worker._handler, quick_redelivery)
        await consumer.start()
        assert consumer._subscription is not None
        [msg] = await consumer._subscription.fetch(1, timeout=5)

        async def lost() -> None:
            """The ack never reaches JetStream."""

        msg.ack = lost  # type: ignore[method-assign]
        assert await consumer.process(msg) == Outcome.HANDLED
        assert await stored_order(orders_url, "ack-lost") == ("APPROVED", None, 2)

        async with running(consumer):
            await eventually(lambda: replies_settled(nc), what="redelivered and acked")
        info = await nc.jetstream().consumer_info("USER_V1", "orders")
        assert info.delivered.consumer_seq == 2  # the one reply, delivered twice
        assert await stored_order(orders_url, "ack-lost") == ("APPROVED", None, 2)
        assert (await outbox_types(orders_url)).count("order.v1.OrderApproved") == 1


async def has(nc: Client, kind: str, order_name: str, count: int) -> bool:
    return len(await commands_of(nc, kind, order_name)) >= count


async def event_count(nc: Client, subject: str, count: int) -> bool:
    return len(await events_of(nc, subject)) == count


async def state_is(url: str, order_id: str, state: str) -> bool:
    return (await stored_order(url, order_id))[0] == state


async def saga_is(url: str, order_id: str, steps: list[tuple[str, str]]) -> bool:
    return await saga_steps(url, order_id) == steps
