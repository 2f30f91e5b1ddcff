"""The ports the service layer needs from persistence: repositories and a unit of work."""

import abc
from dataclasses import dataclass

from usersuite.platform.service.unit_of_work import UnitOfWorkBase
from usersuite.users.domain.events import DomainEvent
from usersuite.users.domain.model import User


class UserRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, user: User) -> None:
        """Inserts; raises UserAlreadyExists or EmailAlreadyExists on a clash."""

    @abc.abstractmethod
    async def get(self, user_id: str, *, for_update: bool = False) -> User | None:
        """The user, locked for the rest of the transaction when for_update is set."""

    @abc.abstractmethod
    async def list_after(self, cursor: int, limit: int) -> list[tuple[int, User]]:
        """Up to `limit` users after `cursor` in creation order, each with its own cursor."""

    @abc.abstractmethod
    async def update(self, user: User, expected_version: int) -> bool:
        """Writes `user` if the stored version is still `expected_version`."""

    @abc.abstractmethod
    async def delete(self, user_id: str, expected_version: int) -> bool:
        """Deletes the user if the stored version is still `expected_version`."""


class UserReads(abc.ABC):
    """Reads outside any transaction: each sees every write committed before it was asked."""

    @abc.abstractmethod
    async def get(self, user_id: str) -> User | None:
        """The user, or None."""

    @abc.abstractmethod
    async def list_after(self, cursor: int, limit: int) -> list[tuple[int, User]]:
        """Up to `limit` users after `cursor` in creation order, each with its own cursor."""


class Outbox(abc.ABC):
    @abc.abstractmethod
    async def append(self, event: DomainEvent) -> None:
        """Records the event in the same transaction as the change it describes."""


@dataclass(frozen=True)
class IdempotentResult:
    """What an earlier call with the same request id asked for and answered."""

    fingerprint: str
    user: User


class IdempotencyStore(abc.ABC):
    @abc.abstractmethod
    async def claim(self, request_id: str, fingerprint: str) -> IdempotentResult | None:
        """Claims the request id for this transaction, or returns the earlier call's result.

        Concurrent claims of one id wait for the first to commit or roll back.
        """

    @abc.abstractmethod
    async def complete(self, request_id: str, user: User) -> None:
        """Stores the response of the call that claimed the request id."""


class UnitOfWork(UnitOfWorkBase):
    """One database transaction of the service, with its repositories."""

    users: UserRepository
    outbox: Outbox
    idempotency: IdempotencyStore
