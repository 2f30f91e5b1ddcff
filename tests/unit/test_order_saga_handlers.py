"""Billing's replies and the deadlines through SagaHandlers over the in-memory fakes."""

from datetime import datetime, timedelta

import pytest

from tests.support.fakes import PAGE_TOKEN_KEY, T0, Counter
from tests.support.order_fakes import FakeOrdersDatabase, waiting
from usersuite.orders.domain.events import CommandSent, OrderChange, OrderEvent
from usersuite.orders.domain.messages import (
    CreditRefused,
    CreditReleased,
    CreditReserved,
    RefusalReason,
    ReleaseCredit,
    ReserveCredit,
)
from usersuite.orders.domain.order import Order, OrderState, RejectionReason
from usersuite.orders.domain.retry import RetryPolicy
from usersuite.orders.domain.saga import Saga, SagaKind, SagaStep
from usersuite.orders.service import commands
from usersuite.orders.service.handlers import OrderHandlers
from usersuite.orders.service.saga_handlers import SagaHandlers
from usersuite.platform.service.page_tokens import PageTokenCodec

POLICY = RetryPolicy(first_wait=timedelta(seconds=10), multiplier=2, reserve_attempts=2)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db() -> FakeOrdersDatabase:
    return FakeOrdersDatabase()


@pytest.fixture
def sagas(db: FakeOrdersDatabase, clock: Clock) -> SagaHandlers:
    uuids = Counter("10000000-0000-4000-8000-{:012d}")
    return SagaHandlers(db.uow, POLICY, clock=clock, uuid_factory=uuids)


@pytest.fixture
async def placed(db: FakeOrdersDatabase, clock: Clock) -> tuple[Order, Saga]:
    handlers = OrderHandlers(
        db.uow, PageTokenCodec(PAGE_TOKEN_KEY), POLICY, clock=clock,
        uuid_factory=Counter("00000000-0000-4000-8000-{:012d}"),
    )  # fmt: skip
    line = commands.NewLineItem("BOOK-1", 1, 700)
    order = await handlers.create_order(commands.CreateOrder("users/ada-lovelace", (line,), "EUR"))
    return order, db.sagas[0]


async def reply(db: FakeOrdersDatabase, sagas: SagaHandlers, message: object) -> bool:
    async with db.uow() as uow:
        applied = await sagas.on_reply(uow, message)  # type: ignore[arg-type]
        await uow.commit()
    return applied


def sent(db: FakeOrdersDatabase) -> list[object]:
    return [m.command for m in db.outbox if isinstance(m, CommandSent)]


async def test_credit_reserved_approves_and_a_duplicate_has_no_effect(
    db: FakeOrdersDatabase, sagas: SagaHandlers, placed: tuple[Order, Saga]
) -> None:
    order, saga = placed
    assert saga.command_id is not None
    answer = CreditReserved(saga.command_id, saga.saga_id, order.name, 700)

    assert await reply(db, sagas, answer)
    assert not await reply(db, sagas, answer)

    assert db.order(order.id).state is OrderState.APPROVED
    assert [m.change for m in db.outbox if isinstance(m, OrderEvent)] == [
        OrderChange.CREATED,
        OrderChange.APPROVED,
    ]


async def test_a_refusal_rejects_with_its_reason_and_a_stale_reply_is_ignored(
    db: FakeOrdersDatabase, sagas: SagaHandlers, placed: tuple[Order, Saga]
) -> None:
    order, saga = placed
    assert saga.command_id is not None
    assert not await reply(db, sagas, CreditReserved("other", saga.saga_id, order.name, 700))
    refusal = CreditRefused(
        saga.command_id, saga.saga_id, order.name, RefusalReason.CREDIT_LIMIT_EXCEEDED
    )
    assert await reply(db, sagas, refusal)
    rejected = db.order(order.id)
    assert rejected.state is OrderState.REJECTED
    assert rejected.rejection_reason is RejectionReason.CREDIT_LIMIT_EXCEEDED


async def test_no_reply_resends_the_same_command_then_compensates(
    db: FakeOrdersDatabase, sagas: SagaHandlers, placed: tuple[Order, Saga], clock: Clock
) -> None:
    order, saga = placed
    assert await sagas.scan_deadlines() == 0  # nothing is due yet

    clock.now = T0 + timedelta(seconds=10)
    assert await sagas.scan_deadlines() == 1
    reserve, again = sent(db)
    assert again == reserve

    clock.now += timedelta(seconds=20)
    assert await sagas.scan_deadlines() == 1
    release = sent(db)[-1]
    assert isinstance(release, ReleaseCredit)
    assert isinstance(reserve, ReserveCredit)
    assert release.command_id != reserve.command_id
    rejected = db.order(order.id)
    assert rejected.rejection_reason is RejectionReason.BILLING_TIMEOUT
    # A late CreditReserved of the compensated reservation changes nothing.
    assert not await reply(
        db, sagas, CreditReserved(reserve.command_id, saga.saga_id, order.name, 700)
    )
    assert await reply(db, sagas, CreditReleased(release.command_id, saga.saga_id, order.name))
    assert waiting(db) == []
    assert db.order(order.id) == rejected


class Seen:
    """A SagaObserver that writes down what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def started(self, kind: SagaKind) -> None:
        self.calls.append(("started", kind))

    def order_changed(self, state: OrderState, reason: RejectionReason | None) -> None:
        self.calls.append(("order_changed", (state, reason)))

    def compensated(self) -> None:
        self.calls.append(("compensated", None))

    def step_replied(self, step: SagaStep, seconds: float) -> None:
        self.calls.append(("step_replied", (step, seconds)))

    def overdue(self, count: int) -> None:
        self.calls.append(("overdue", count))


async def test_the_observer_hears_compensation_overdue_sagas_and_step_latency(
    db: FakeOrdersDatabase, placed: tuple[Order, Saga], clock: Clock
) -> None:
    order, saga = placed
    seen = Seen()
    uuids = Counter("20000000-0000-4000-8000-{:012d}")
    policy = RetryPolicy(first_wait=timedelta(seconds=10), reserve_attempts=1, release_attempts=1)
    sagas = SagaHandlers(db.uow, policy, clock=clock, uuid_factory=uuids, observer=seen)

    clock.now = T0 + timedelta(seconds=10)
    await sagas.scan_deadlines()  # gives up: compensates
    assert ("compensated", None) in seen.calls
    rejected = (OrderState.REJECTED, RejectionReason.BILLING_TIMEOUT)
    assert ("order_changed", rejected) in seen.calls
    assert seen.calls[-1] == ("overdue", 0)

    clock.now += timedelta(seconds=10)
    await sagas.scan_deadlines()  # the release is not answered either: parked, still overdue
    assert seen.calls[-1] == ("overdue", 1)

    [release] = [c for c in sent(db) if isinstance(c, ReleaseCredit)]
    clock.now += timedelta(seconds=5)
    assert await reply(db, sagas, CreditReleased(release.command_id, saga.saga_id, order.name))
    assert seen.calls[-1:] == [("step_replied", (SagaStep.RELEASE_CREDIT, 15.0))]
