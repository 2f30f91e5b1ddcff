"""In-memory fakes of orders' persistence ports for unit tests: changes show once committed."""

from copy import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

from usersuite.orders.domain.errors import OrderAlreadyExists
from usersuite.orders.domain.events import OutboxMessage
from usersuite.orders.domain.order import Order
from usersuite.orders.domain.saga import Saga, SagaStep
from usersuite.orders.service.unit_of_work import (
    IdempotencyStore,
    IdempotentResult,
    OrderRepository,
    Outbox,
    SagaRepository,
    UnitOfWork,
)


@dataclass
class OrdersState:
    orders: dict[str, tuple[int, Order]] = field(default_factory=dict)
    sagas: dict[str, Saga] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    requests: dict[str, tuple[str, Order | None]] = field(default_factory=dict)
    last_seq: int = 0

    def copy(self) -> "OrdersState":
        return OrdersState(
            dict(self.orders), dict(self.sagas), list(self.outbox), dict(self.requests),
            self.last_seq,
        )  # fmt: skip


class FakeOrdersDatabase:
    def __init__(self) -> None:
        self.committed = OrdersState()
        self.commits = 0

    def uow(self) -> "FakeOrdersUnitOfWork":
        return FakeOrdersUnitOfWork(self)

    def order(self, order_id: str) -> Order:
        return self.committed.orders[order_id][1]

    @property
    def outbox(self) -> list[OutboxMessage]:
        return list(self.committed.outbox)

    @property
    def sagas(self) -> list[Saga]:
        return list(self.committed.sagas.values())


class _Orders(OrderRepository):
    def __init__(self, state: OrdersState) -> None:
        self._s = state

    async def add(self, order: Order) -> None:
        if order.id in self._s.orders:
            raise OrderAlreadyExists(order.id)
        self._s.last_seq += 1
        self._s.orders[order.id] = (self._s.last_seq, order)

    async def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        row = self._s.orders.get(order_id)
        return row[1] if row else None

    async def list_after(
        self, cursor: int, limit: int, user_id: str = ""
    ) -> list[tuple[int, Order]]:
        rows = sorted(self._s.orders.values(), key=lambda row: row[0])
        found = [r for r in rows if r[0] > cursor and (not user_id or r[1].user_id == user_id)]
        return found[:limit]

    async def update(self, order: Order, expected_version: int) -> bool:
        seq, stored = self._s.orders[order.id]
        if stored.version != expected_version:
            return False
        self._s.orders[order.id] = (seq, order)
        return True


class _Sagas(SagaRepository):
    def __init__(self, state: OrdersState) -> None:
        self._s = state

    async def add(self, saga: Saga) -> None:
        self._s.sagas[saga.saga_id] = saga

    async def get(self, saga_id: str, *, for_update: bool = False) -> Saga | None:
        return self._s.sagas.get(saga_id)

    async def save(self, saga: Saga) -> None:
        self._s.sagas[saga.saga_id] = saga

    async def claim_due(self, now: datetime, limit: int) -> list[Saga]:
        return [saga for saga in self._s.sagas.values() if saga.due(now)][:limit]

    async def of_order(self, order_name: str) -> list[Saga]:
        return [saga for saga in self._s.sagas.values() if saga.order == order_name]

    async def count_overdue(self, now: datetime) -> int:
        return sum(1 for saga in self._s.sagas.values() if saga.overdue(now))


class _Outbox(Outbox):
    def __init__(self, state: OrdersState) -> None:
        self._s = state

    async def append(self, message: OutboxMessage) -> None:
        self._s.outbox.append(message)


class _Idempotency(IdempotencyStore):
    def __init__(self, state: OrdersState) -> None:
        self._s = state

    async def claim(self, request_id: str, fingerprint: str) -> IdempotentResult | None:
        earlier = self._s.requests.get(request_id)
        if earlier is None:
            self._s.requests[request_id] = (fingerprint, None)
            return None
        assert earlier[1] is not None
        return IdempotentResult(earlier[0], earlier[1])

    async def complete(self, request_id: str, order: Order) -> None:
        self._s.requests[request_id] = (self._s.requests[request_id][0], order)


class FakeOrdersUnitOfWork(UnitOfWork):
    def __init__(self, db: FakeOrdersDatabase) -> None:
        self._db = db

    async def __aenter__(self) -> Self:
        self._state = self._db.committed.copy()
        self.orders = _Orders(self._state)
        self.sagas = _Sagas(self._state)
        self.outbox = _Outbox(self._state)
        self.idempotency = _Idempotency(self._state)
        return self

    async def commit(self) -> None:
        self._db.committed = copy(self._state)
        self._db.commits += 1

    async def rollback(self) -> None:
        pass


def waiting(db: FakeOrdersDatabase) -> list[Saga]:
    return [saga for saga in db.sagas if saga.step is not SagaStep.DONE]
