"""SQLAlchemy implementations of the orders and saga repositories, the outbox and idempotency."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.orders.adapters.db import codec
from usersuite.orders.adapters.db.tables import orders, sagas
from usersuite.orders.domain.errors import OrderAlreadyExists
from usersuite.orders.domain.events import OutboxMessage
from usersuite.orders.domain.order import Order, OrderState, RejectionReason
from usersuite.orders.domain.saga import Saga, SagaKind, SagaStep
from usersuite.orders.service.unit_of_work import (
    IdempotencyStore,
    IdempotentResult,
    OrderRepository,
    Outbox,
    SagaRepository,
)
from usersuite.platform.db.dialect import as_utc
from usersuite.platform.db.idempotency import claim_request, complete_request
from usersuite.platform.db.outbox_writer import append_outbox

# (event type, serialized protobuf) of an outbox message; the codec lives at the API edge.
MessageEncoder = Callable[[OutboxMessage], tuple[str, bytes]]
AGGREGATE_TYPE = "order.v1.Order"

_ORDER_COLUMNS = (
    orders.c.id,
    orders.c.user_id,
    orders.c.line_items,
    orders.c.currency_code,
    orders.c.state,
    orders.c.rejection_reason,
    orders.c.create_time,
    orders.c.update_time,
    orders.c.version,
)
# Built once: the hot calls (CreateOrder, GetOrder, every saga reply) reuse these statements.
_GET_ORDER = select(*_ORDER_COLUMNS).where(orders.c.id == bindparam("order_id"))
_GET_ORDER_FOR_UPDATE = _GET_ORDER.with_for_update()
_INSERT_ORDER = orders.insert().inline()
_LIST_ORDERS = (
    select(orders.c.seq, *_ORDER_COLUMNS)
    .where(orders.c.seq > bindparam("cursor"))
    .order_by(orders.c.seq)
    .limit(bindparam("limit"))
)
_LIST_USER_ORDERS = (
    select(orders.c.seq, *_ORDER_COLUMNS)
    .where(orders.c.seq > bindparam("cursor"), orders.c.user_id == bindparam("user_id"))
    .order_by(orders.c.seq)
    .limit(bindparam("limit"))
)
_GET_SAGA = select(sagas).where(sagas.c.saga_id == bindparam("saga_id"))
_GET_SAGA_FOR_UPDATE = _GET_SAGA.with_for_update()


def _order_values(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "user_id": order.user_id,
        "line_items": codec.line_items_to_json(order.line_items),
        "currency_code": order.currency_code,
        "state": order.state.value,
        "rejection_reason": order.rejection_reason and order.rejection_reason.value,
        "create_time": order.create_time,
        "update_time": order.update_time,
        "version": order.version,
    }


def _order_from_row(row: Any) -> Order:
    return Order(
        id=row.id,
        user_id=row.user_id,
        line_items=codec.line_items_from_json(row.line_items),
        currency_code=row.currency_code,
        state=OrderState(row.state),
        rejection_reason=RejectionReason(row.rejection_reason) if row.rejection_reason else None,
        create_time=as_utc(row.create_time),
        update_time=as_utc(row.update_time),
        version=row.version,
    )


class SqlOrderRepository(OrderRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, order: Order) -> None:
        try:
            await self._conn.execute(_INSERT_ORDER, _order_values(order))
        except IntegrityError as exc:
            message = str(exc.orig)
            if "uq_orders_id" in message or "orders.id" in message:
                raise OrderAlreadyExists(order.id) from None
            raise

    async def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        query = _GET_ORDER_FOR_UPDATE if for_update else _GET_ORDER
        row = (await self._conn.execute(query, {"order_id": order_id})).first()
        return _order_from_row(row) if row else None

    async def list_after(
        self, cursor: int, limit: int, user_id: str = ""
    ) -> list[tuple[int, Order]]:
        values = {"cursor": cursor, "limit": limit, "user_id": user_id}
        query = _LIST_USER_ORDERS if user_id else _LIST_ORDERS
        rows = await self._conn.execute(query, values)
        return [(row.seq, _order_from_row(row)) for row in rows]

    async def update(self, order: Order, expected_version: int) -> bool:
        result = await self._conn.execute(
            orders.update()
            .where(orders.c.id == order.id, orders.c.version == expected_version)
            .values(
                state=order.state.value,
                rejection_reason=order.rejection_reason and order.rejection_reason.value,
                update_time=order.update_time,
                version=order.version,
            )
        )
        return result.rowcount == 1


def _saga_values(saga: Saga) -> dict[str, Any]:
    return {
        "saga_id": saga.saga_id,
        "order_id": saga.order.removeprefix("orders/"),
        "kind": saga.kind.value,
        "step": saga.step.value,
        "command_id": saga.command_id,
        "command": codec.command_to_json(saga.command),
        "attempt": saga.attempt,
        "deadline": saga.deadline,
        "parked": saga.parked,
        "timeline": codec.timeline_to_json(saga.timeline),
    }


def _saga_from_row(row: Any) -> Saga:
    return Saga(
        saga_id=row.saga_id,
        order=f"orders/{row.order_id}",
        kind=SagaKind(row.kind),
        step=SagaStep(row.step),
        command=codec.command_from_json(row.command),
        attempt=row.attempt,
        deadline=as_utc(row.deadline) if row.deadline is not None else None,
        parked=bool(row.parked),
        timeline=codec.timeline_from_json(row.timeline),
    )


def _waiting(now: datetime) -> Any:
    return and_(sagas.c.step != SagaStep.DONE.value, sagas.c.deadline <= now)


class SqlSagaRepository(SagaRepository):
    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._conn = conn
        self._clock = clock

    async def add(self, saga: Saga) -> None:
        now = self._clock()
        values = {**_saga_values(saga), "create_time": now, "update_time": now}
        await self._conn.execute(sagas.insert(), values)

    async def get(self, saga_id: str, *, for_update: bool = False) -> Saga | None:
        query = _GET_SAGA_FOR_UPDATE if for_update else _GET_SAGA
        row = (await self._conn.execute(query, {"saga_id": saga_id})).first()
        return _saga_from_row(row) if row else None

    async def save(self, saga: Saga) -> None:
        values = {**_saga_values(saga), "update_time": self._clock()}
        await self._conn.execute(
            sagas.update().where(sagas.c.saga_id == saga.saga_id).values(values)
        )

    async def claim_due(self, now: datetime, limit: int) -> list[Saga]:
        # SKIP LOCKED: replicas scanning at once each take other sagas (SQLite: one process).
        query = (
            select(sagas)
            .where(_waiting(now), sagas.c.parked.is_(False))
            .order_by(sagas.c.deadline)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_saga_from_row(row) for row in await self._conn.execute(query)]

    async def of_order(self, order_name: str) -> list[Saga]:
        query = (
            select(sagas)
            .where(sagas.c.order_id == order_name.removeprefix("orders/"))
            .order_by(sagas.c.create_time, sagas.c.saga_id)
        )
        return [_saga_from_row(row) for row in await self._conn.execute(query)]

    async def count_overdue(self, now: datetime) -> int:
        query = select(func.count()).select_from(sagas).where(_waiting(now))
        return int((await self._conn.execute(query)).scalar_one())


class SqlOutbox(Outbox):
    def __init__(self, conn: AsyncConnection, encode: MessageEncoder) -> None:
        self._conn = conn
        self._encode = encode

    async def append(self, message: OutboxMessage) -> None:
        event_type, payload = self._encode(message)
        await append_outbox(self._conn, message.metadata, event_type, payload, AGGREGATE_TYPE)


class SqlIdempotencyStore(IdempotencyStore):
    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._conn = conn
        self._clock = clock

    async def claim(self, request_id: str, fingerprint: str) -> IdempotentResult | None:
        earlier = await claim_request(self._conn, request_id, fingerprint, self._clock())
        if earlier is None:
            return None
        return IdempotentResult(earlier[0], codec.order_from_json(earlier[1]))

    async def complete(self, request_id: str, order: Order) -> None:
        await complete_request(self._conn, request_id, codec.order_to_json(order))
