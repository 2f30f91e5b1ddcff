"""Billing's ports in memory (accounts, reservations, outbox), for unit tests of its use cases."""

from copy import copy

from usersuite.billing.domain.account import Account
from usersuite.billing.domain.events import OutboundMessage
from usersuite.billing.domain.reservations import Reservation
from usersuite.billing.service.unit_of_work import (
    AccountRepository,
    Outbox,
    ReservationRepository,
    UnitOfWork,
)


class BillingStore:
    """What is committed: a unit of work works on a copy and writes it back on commit."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.reservations: dict[str, Reservation] = {}
        self.outbox: list[OutboundMessage] = []

    def uow(self) -> "FakeUnitOfWork":
        return FakeUnitOfWork(self)


class FakeAccounts(AccountRepository):
    def __init__(self, rows: dict[str, Account]) -> None:
        self.rows = rows

    async def get(self, user_id: str, *, for_update: bool = False) -> Account | None:
        return self.rows.get(user_id)

    async def add(self, account: Account) -> bool:
        if account.user_id in self.rows:
            return False
        self.rows[account.user_id] = account
        return True

    async def update(self, account: Account, expected_version: int) -> bool:
        stored = self.rows.get(account.user_id)
        if stored is None or stored.version != expected_version:
            return False
        self.rows[account.user_id] = account
        return True


class FakeReservations(ReservationRepository):
    def __init__(self, rows: dict[str, Reservation]) -> None:
        self.rows = rows

    async def get(self, order: str, *, for_update: bool = False) -> Reservation | None:
        return self.rows.get(order)

    async def add(self, reservation: Reservation) -> None:
        if reservation.order in self.rows:
            raise RuntimeError(f"duplicate key {reservation.order}")
        self.rows[reservation.order] = reservation

    async def update(self, reservation: Reservation) -> None:
        assert reservation.order in self.rows
        self.rows[reservation.order] = reservation


class FakeOutbox(Outbox):
    def __init__(self, rows: list[OutboundMessage]) -> None:
        self.rows = rows

    async def append(self, message: OutboundMessage) -> None:
        self.rows.append(message)


class FakeUnitOfWork(UnitOfWork):
    accounts: FakeAccounts
    reservations: FakeReservations
    outbox: FakeOutbox

    def __init__(self, store: BillingStore) -> None:
        self._store = store
        self.accounts = FakeAccounts(copy(store.accounts))
        self.reservations = FakeReservations(copy(store.reservations))
        self.outbox = FakeOutbox(copy(store.outbox))

    async def commit(self) -> None:
        self._store.accounts = copy(self.accounts.rows)
        self._store.reservations = copy(self.reservations.rows)
        self._store.outbox = copy(self.outbox.rows)

    async def rollback(self) -> None:
        pass
