"""The ports billing's use cases need from persistence: accounts, reservations, the outbox."""

import abc

from usersuite.billing.domain.account import Account
from usersuite.billing.domain.events import OutboundMessage
from usersuite.billing.domain.reservations import Reservation
from usersuite.platform.service.unit_of_work import UnitOfWorkBase


class AccountRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, user_id: str, *, for_update: bool = False) -> Account | None:
        """The account, locked for the rest of the transaction when for_update is set."""

    @abc.abstractmethod
    async def add(self, account: Account) -> bool:
        """Inserts the account; False (and nothing written) when the user has one already."""

    @abc.abstractmethod
    async def update(self, account: Account, expected_version: int) -> bool:
        """Writes `account` if the stored version is still `expected_version`."""


class ReservationRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, order: str, *, for_update: bool = False) -> Reservation | None:
        """The order's reservation (or tombstone), if billing has decided anything for it."""

    @abc.abstractmethod
    async def add(self, reservation: Reservation) -> None:
        """Inserts the order's first reservation; a clash (a concurrent first decision for the
        same order) raises, so the transaction is rolled back and the message retried."""

    @abc.abstractmethod
    async def update(self, reservation: Reservation) -> None:
        """Replaces the order's stored reservation (read for update in this transaction)."""


class Outbox(abc.ABC):
    @abc.abstractmethod
    async def append(self, message: OutboundMessage) -> None:
        """Records the message in the same transaction as the change it describes."""


class UnitOfWork(UnitOfWorkBase):
    """One database transaction of the service, with its repositories."""

    accounts: AccountRepository
    reservations: ReservationRepository
    outbox: Outbox
