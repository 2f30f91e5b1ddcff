"""SQLAlchemy implementations of billing's accounts, reservations and outbox."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.billing.adapters.db.tables import accounts, reservations
from usersuite.billing.domain.account import Account, AccountState
from usersuite.billing.domain.events import OutboundMessage, ReplySent
from usersuite.billing.domain.messages import RefusalReason
from usersuite.billing.domain.reservations import Reservation, ReservationState
from usersuite.billing.service.unit_of_work import (
    AccountRepository,
    Outbox,
    ReservationRepository,
)
from usersuite.platform.db.dialect import as_utc, upsert_insert
from usersuite.platform.db.outbox_writer import append_outbox

# Turns a message into (its full protobuf name, its serialized payload); the protobuf codec
# lives at the API edge and is passed in by bootstrap, so this module never imports generated code.
MessageEncoder = Callable[[OutboundMessage], tuple[str, bytes]]

ACCOUNT_AGGREGATE = "billing.v1.Account"
# A saga reply's aggregate is its order (the partition key keeps a saga's messages in order).
ORDER_AGGREGATE = "order.v1.Order"

_GET_ACCOUNT = select(accounts).where(accounts.c.user_id == bindparam("user_id"))
_GET_ACCOUNT_FOR_UPDATE = _GET_ACCOUNT.with_for_update()
_GET_RESERVATION = select(reservations).where(reservations.c.order_name == bindparam("order"))
_GET_RESERVATION_FOR_UPDATE = _GET_RESERVATION.with_for_update()


def _account_values(account: Account) -> dict[str, Any]:
    return {
        "user_id": account.user_id,
        "currency_code": account.currency_code,
        "credit_limit_minor": account.credit_limit_minor,
        "reserved_minor": account.reserved_minor,
        "state": account.state.value,
        "create_time": account.create_time,
        "update_time": account.update_time,
        "version": account.version,
    }


def _account(row: Row[Any]) -> Account:
    return Account(
        user_id=row.user_id,
        currency_code=row.currency_code,
        credit_limit_minor=row.credit_limit_minor,
        reserved_minor=row.reserved_minor,
        state=AccountState(row.state),
        create_time=as_utc(row.create_time),
        update_time=as_utc(row.update_time),
        version=row.version,
    )


def _reservation(row: Row[Any]) -> Reservation:
    return Reservation(
        order=row.order_name,
        user_id=row.user_id,
        state=ReservationState(row.state),
        amount_minor=row.amount_minor,
        reserve_command_id=row.reserve_command_id,
        refusal=None if row.refusal is None else RefusalReason(row.refusal),
        create_time=as_utc(row.create_time),
        update_time=as_utc(row.update_time),
    )


class SqlAccountRepository(AccountRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, user_id: str, *, for_update: bool = False) -> Account | None:
        query = _GET_ACCOUNT_FOR_UPDATE if for_update else _GET_ACCOUNT
        row = (await self._conn.execute(query, {"user_id": user_id})).first()
        return _account(row) if row else None

    async def add(self, account: Account) -> bool:
        # A concurrent insert of the same user waits for the other transaction, then skips.
        inserted = await self._conn.execute(
            upsert_insert(self._conn, accounts)
            .values(**_account_values(account))
            .on_conflict_do_nothing(index_elements=["user_id"])
            .returning(accounts.c.user_id)
        )
        return inserted.first() is not None

    async def update(self, account: Account, expected_version: int) -> bool:
        values = _account_values(account)
        del values["user_id"], values["create_time"]
        result = await self._conn.execute(
            accounts.update()
            .where(accounts.c.user_id == account.user_id, accounts.c.version == expected_version)
            .values(**values)
        )
        return result.rowcount == 1


class SqlReservationRepository(ReservationRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, order: str, *, for_update: bool = False) -> Reservation | None:
        query = _GET_RESERVATION_FOR_UPDATE if for_update else _GET_RESERVATION
        row = (await self._conn.execute(query, {"order": order})).first()
        return _reservation(row) if row else None

    async def add(self, reservation: Reservation) -> None:
        # Two first decisions for one order at once: the second insert fails on the key, its
        # transaction rolls back, and the consumer's retry finds the first decision.
        await self._conn.execute(reservations.insert().values(**_reservation_values(reservation)))

    async def update(self, reservation: Reservation) -> None:
        values = _reservation_values(reservation)
        order = values.pop("order_name")
        del values["create_time"]
        await self._conn.execute(
            reservations.update().where(reservations.c.order_name == order).values(**values)
        )


def _reservation_values(reservation: Reservation) -> dict[str, Any]:
    return {
        "order_name": reservation.order,
        "user_id": reservation.user_id,
        "state": reservation.state.value,
        "amount_minor": reservation.amount_minor,
        "reserve_command_id": reservation.reserve_command_id,
        "refusal": None if reservation.refusal is None else reservation.refusal.value,
        "create_time": reservation.create_time,
        "update_time": reservation.update_time,
    }


class SqlOutbox(Outbox):
    def __init__(self, conn: AsyncConnection, encode: MessageEncoder) -> None:
        self._conn = conn
        self._encode = encode

    async def append(self, message: OutboundMessage) -> None:
        event_type, payload = self._encode(message)
        aggregate = ORDER_AGGREGATE if isinstance(message, ReplySent) else ACCOUNT_AGGREGATE
        await append_outbox(self._conn, message.metadata, event_type, payload, aggregate)
