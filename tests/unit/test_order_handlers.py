"""The orders use cases over the in-memory fakes: create, get, list, cancel and validation."""

from datetime import timedelta

import pytest

from tests.support.fakes import PAGE_TOKEN_KEY, T0, Counter, SteppingClock
from tests.support.order_fakes import FakeOrdersDatabase
from usersuite.orders.domain.errors import (
    EtagMismatch,
    OrderAlreadyExists,
    OrderNotCancellable,
    OrderNotFound,
    RequestIdReused,
    ValidationFailed,
)
from usersuite.orders.domain.events import CommandSent, OrderChange, OrderEvent
from usersuite.orders.domain.messages import CreditReserved, ReleaseCredit, ReserveCredit
from usersuite.orders.domain.order import OrderState
from usersuite.orders.domain.retry import RetryPolicy
from usersuite.orders.service import commands
from usersuite.orders.service.handlers import OrderHandlers
from usersuite.orders.service.saga_handlers import SagaHandlers
from usersuite.platform.domain.errors import InvalidPageToken
from usersuite.platform.service.page_tokens import PageTokenCodec

REQUEST_ID = "6f1c2d3e-4b5a-4c6d-8e7f-001122334455"
POLICY = RetryPolicy(first_wait=timedelta(seconds=10), reserve_attempts=2)
BOOK = commands.NewLineItem("BOOK-1", 2, 1500)


@pytest.fixture
def db() -> FakeOrdersDatabase:
    return FakeOrdersDatabase()


@pytest.fixture
def uuids() -> Counter:
    return Counter("00000000-0000-4000-8000-{:012d}")


@pytest.fixture
def handlers(db: FakeOrdersDatabase, uuids: Counter) -> OrderHandlers:
    return OrderHandlers(
        db.uow, PageTokenCodec(PAGE_TOKEN_KEY), POLICY, clock=SteppingClock(),
        id_factory=Counter("01j0000000000000000000{:04d}"), uuid_factory=uuids,
    )  # fmt: skip


def create(**overrides: object) -> commands.CreateOrder:
    values: dict[str, object] = {
        "user": "users/ada-lovelace",
        "line_items": (BOOK,),
        "currency_code": "EUR",
    }
    values.update(overrides)
    return commands.CreateOrder(**values)  # type: ignore[arg-type]


async def test_create_writes_the_pending_order_its_saga_and_reserve_credit_in_one_commit(
    handlers: OrderHandlers, db: FakeOrdersDatabase
) -> None:
    order = await handlers.create_order(create(order_id="first-order"))

    assert order.state is OrderState.PENDING
    assert order.total_minor == 3000
    assert db.commits == 1
    [created, sent] = db.outbox
    assert isinstance(created, OrderEvent)
    assert created.change is OrderChange.CREATED
    assert isinstance(sent, CommandSent)
    assert isinstance(sent.command, ReserveCredit)
    assert sent.command.account == "accounts/ada-lovelace"
    assert sent.command.amount_minor == 3000
    assert sent.metadata.aggregate_name == "orders/first-order"
    assert created.metadata.event_id != sent.metadata.event_id
    [saga] = db.sagas
    assert saga.command_id == sent.command.command_id
    assert saga.deadline == order.create_time + timedelta(seconds=10)


async def test_every_bad_field_is_named(handlers: OrderHandlers) -> None:
    bad = create(
        user="people/ada",
        line_items=(
            commands.NewLineItem("no spaces", 0, -1),
            commands.NewLineItem("OK", 1_000_001, 5),
        ),
        currency_code="eur",
        order_id="9starts-with-digit",
        request_id="not-a-uuid",
    )
    with pytest.raises(ValidationFailed) as raised:
        await handlers.create_order(bad)

    assert [v.field for v in raised.value.violations] == [
        "order.user",
        "order.line_items[0].sku",
        "order.line_items[0].quantity",
        "order.line_items[0].unit_price_minor",
        "order.line_items[1].quantity",
        "order.currency_code",
        "order_id",
        "request_id",
    ]


@pytest.mark.parametrize("count", [0, 101])
async def test_an_order_holds_1_to_100_line_items(handlers: OrderHandlers, count: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        await handlers.create_order(create(line_items=(BOOK,) * count))
    assert [v.field for v in raised.value.violations] == ["order.line_items"]


async def test_a_total_beyond_int64_is_invalid(handlers: OrderHandlers) -> None:
    huge = commands.NewLineItem("GOLD", 1_000_000, 2**62)
    with pytest.raises(ValidationFailed) as raised:
        await handlers.create_order(create(line_items=(huge,)))
    assert [v.field for v in raised.value.violations] == ["order.line_items"]


async def test_a_taken_order_id_already_exists(handlers: OrderHandlers) -> None:
    await handlers.create_order(create(order_id="taken"))
    with pytest.raises(OrderAlreadyExists):
        await handlers.create_order(create(order_id="taken"))


async def test_a_repeated_request_id_returns_the_first_order_and_reserves_once(
    handlers: OrderHandlers, db: FakeOrdersDatabase
) -> None:
    first = await handlers.create_order(create(request_id=REQUEST_ID))
    again = await handlers.create_order(create(request_id=REQUEST_ID.upper()))

    assert again == first
    assert len(db.sagas) == 1
    with pytest.raises(RequestIdReused):
        await handlers.create_order(create(request_id=REQUEST_ID, currency_code="USD"))


async def test_get_and_list_by_user_in_pages(handlers: OrderHandlers) -> None:
    a1 = await handlers.create_order(create())
    await handlers.create_order(create(user="users/grace-hopper"))
    a2 = await handlers.create_order(create())

    assert await handlers.get_order(commands.GetOrder(a1.id)) == a1
    with pytest.raises(OrderNotFound):
        await handlers.get_order(commands.GetOrder("missing"))
    page = await handlers.list_orders(commands.ListOrders(page_size=1, user="users/ada-lovelace"))
    assert page.orders == [a1]
    rest = await handlers.list_orders(
        commands.ListOrders(page_size=1, page_token=page.next_page_token, user="users/ada-lovelace")
    )
    assert rest.orders == [a2]
    assert rest.next_page_token == ""
    with pytest.raises(InvalidPageToken):
        await handlers.list_orders(
            commands.ListOrders(page_size=1, page_token=page.next_page_token)
        )


async def test_only_an_approved_order_is_cancelled(
    handlers: OrderHandlers, db: FakeOrdersDatabase, uuids: Counter
) -> None:
    order = await handlers.create_order(create())
    with pytest.raises(OrderNotCancellable):
        await handlers.cancel_order(commands.CancelOrder(order.id))

    sagas = SagaHandlers(db.uow, POLICY, clock=lambda: T0, uuid_factory=uuids)
    [saga] = db.sagas
    assert saga.command_id is not None
    async with db.uow() as uow:
        await sagas.on_reply(uow, CreditReserved(saga.command_id, saga.saga_id, order.name, 3000))
        await uow.commit()
    approved = db.order(order.id)
    assert approved.state is OrderState.APPROVED

    with pytest.raises(EtagMismatch):
        await handlers.cancel_order(commands.CancelOrder(order.id, etag=order.etag))
    cancelled = await handlers.cancel_order(
        commands.CancelOrder(order.id, etag=approved.etag, request_id=REQUEST_ID)
    )
    assert cancelled.state is OrderState.CANCELLED
    assert isinstance(db.outbox[-1], CommandSent)
    assert isinstance(db.outbox[-1].command, ReleaseCredit)
    assert db.outbox[-2] == OrderEvent(db.outbox[-2].metadata, OrderChange.CANCELLED, cancelled)
    # A retry with the same request id answers like the first call, not FAILED_PRECONDITION.
    again = await handlers.cancel_order(
        commands.CancelOrder(order.id, etag=approved.etag, request_id=REQUEST_ID)
    )
    assert again == cancelled
