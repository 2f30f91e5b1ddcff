"""The ports the orders service needs from persistence: repositories and a unit of work."""

import abc
from dataclasses import dataclass
from datetime import datetime

from usersuite.orders.domain.events import OutboxMessage
from usersuite.orders.domain.order import Order
from usersuite.orders.domain.saga import Saga
from usersuite.platform.service.unit_of_work import UnitOfWorkBase


class OrderRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, order: Order) -> None:
        """Inserts; raises OrderAlreadyExists on a clash."""

    @abc.abstractmethod
    async def get(self, order_id: str, *, for_update: bool = False) -> Order | None: ...

    @abc.abstractmethod
    async def list_after(
        self, cursor: int, limit: int, user_id: str = ""
    ) -> list[tuple[int, Order]]:
        """Up to `limit` orders after `cursor` in creation order (of one user, when given)."""

    @abc.abstractmethod
    async def update(self, order: Order, expected_version: int) -> bool:
        """Writes `order` if the stored version is still `expected_version`."""


class SagaRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, saga: Saga) -> None: ...

    @abc.abstractmethod
    async def get(self, saga_id: str, *, for_update: bool = False) -> Saga | None: ...

    @abc.abstractmethod
    async def save(self, saga: Saga) -> None: ...

    @abc.abstractmethod
    async def claim_due(self, now: datetime, limit: int) -> list[Saga]:
        """Sagas whose deadline has passed, locked so that no other replica takes them."""

    @abc.abstractmethod
    async def of_order(self, order_name: str) -> list[Saga]:
        """The order's sagas, oldest first (for `usersuite saga show`)."""

    @abc.abstractmethod
    async def count_overdue(self, now: datetime) -> int:
        """Sagas still waiting after their deadline, parked ones included."""


class Outbox(abc.ABC):
    @abc.abstractmethod
    async def append(self, message: OutboxMessage) -> None:
        """Records the message in the same transaction as the change that sends it."""


@dataclass(frozen=True)
class IdempotentResult:
    fingerprint: str
    order: Order


class IdempotencyStore(abc.ABC):
    @abc.abstractmethod
    async def claim(self, request_id: str, fingerprint: str) -> IdempotentResult | None:
        """Claims the request id for this transaction, or returns the earlier call's result."""

    @abc.abstractmethod
    async def complete(self, request_id: str, order: Order) -> None: ...


class UnitOfWork(UnitOfWorkBase):
    """One database transaction of the service, with its repositories."""

    orders: OrderRepository
    sagas: SagaRepository
    outbox: Outbox
    idempotency: IdempotencyStore
