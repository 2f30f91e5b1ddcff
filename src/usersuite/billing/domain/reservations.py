"""Credit reservations, keyed by order: the saga's ReserveCredit and ReleaseCredit, idempotent.

A reservation is found by its order alone (ReleaseCredit names no account), so the caller loads
the order's reservation, if any, and the account it needs, and stores what the outcome says.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from usersuite.billing.domain.account import Account, check_minor_units
from usersuite.billing.domain.messages import (
    CreditRefused,
    CreditReleased,
    CreditReply,
    CreditReserved,
    RefusalReason,
)


class ReservationState(Enum):
    ACTIVE = "ACTIVE"
    RELEASED = "RELEASED"
    # Kept so that a repeated ReserveCredit gets the same refusal even if the limit rose since.
    REFUSED = "REFUSED"


@dataclass(frozen=True)
class Reservation:
    """What billing decided for one order; kept after release so late commands meet it."""

    order: str
    # The account's user; None for a tombstone or a refusal for want of an account.
    user_id: str | None
    state: ReservationState
    amount_minor: int
    # The ReserveCredit that made or refused it; None for a tombstone.
    reserve_command_id: str | None
    refusal: RefusalReason | None
    create_time: datetime
    update_time: datetime

    @property
    def tombstone(self) -> bool:
        """Released before any ReserveCredit arrived: a late one is refused."""
        return self.state is ReservationState.RELEASED and self.reserve_command_id is None


@dataclass(frozen=True)
class CreditOutcome:
    """The reply to send, and what to store in the same transaction.

    `account` is the account after the command (the very object passed in when unchanged, None
    when there is none); `reservation` is the order's reservation to store, None when unchanged.
    """

    reply: CreditReply
    account: Account | None
    reservation: Reservation | None


def reserve(
    account: Account | None,
    existing: Reservation | None,
    *,
    order: str,
    amount_minor: int,
    currency_code: str,
    command_id: str,
    saga_id: str,
    now: datetime,
) -> CreditOutcome:
    """Reserves `amount_minor` for `order` once; a repeat gets the first answer again.

    `account` is the command's account (None if there is no such account); `existing` is the
    order's reservation, if any.
    """
    if existing is not None:
        _check_order(existing, order)
        return CreditOutcome(_answer(existing, command_id, saga_id), account, None)
    check_minor_units(amount_minor)
    asked = _Ask(order, amount_minor, command_id, saga_id, now)
    if account is None:
        return _refused(None, RefusalReason.NO_ACCOUNT, asked)
    refusal = account.refusal_for(amount_minor, currency_code)
    if refusal is not None:
        return _refused(account, refusal, asked)
    active = Reservation(
        order, account.user_id, ReservationState.ACTIVE, amount_minor, command_id, None, now, now
    )
    return CreditOutcome(
        CreditReserved(command_id, saga_id, order, amount_minor),
        account.with_reserved(account.reserved_minor + amount_minor, now),
        active,
    )


def release(
    account: Account | None,
    existing: Reservation | None,
    *,
    order: str,
    command_id: str,
    saga_id: str,
    now: datetime,
) -> CreditOutcome:
    """Releases `order`'s reservation; never refused, and a tombstone if there was none.

    `account` must be the reservation's account when it is ACTIVE; otherwise it is not needed.
    """
    reply = CreditReleased(command_id, saga_id, order)
    if existing is None:
        tombstone = Reservation(order, None, ReservationState.RELEASED, 0, None, None, now, now)
        return CreditOutcome(reply, account, tombstone)
    _check_order(existing, order)
    if existing.state is ReservationState.RELEASED:
        return CreditOutcome(reply, account, None)
    released = replace(existing, state=ReservationState.RELEASED, update_time=now)
    if existing.state is ReservationState.REFUSED:
        return CreditOutcome(reply, account, released)
    if account is None or account.user_id != existing.user_id:
        raise ValueError(f"releasing {order} needs account {existing.user_id}'s state")
    freed = account.with_reserved(account.reserved_minor - existing.amount_minor, now)
    return CreditOutcome(reply, freed, released)


@dataclass(frozen=True)
class _Ask:
    order: str
    amount_minor: int
    command_id: str
    saga_id: str
    now: datetime


def _refused(account: Account | None, refusal: RefusalReason, asked: _Ask) -> CreditOutcome:
    refused = Reservation(
        asked.order,
        None if account is None else account.user_id,
        ReservationState.REFUSED,
        asked.amount_minor,
        asked.command_id,
        refusal,
        asked.now,
        asked.now,
    )
    reply = CreditRefused(asked.command_id, asked.saga_id, asked.order, refusal)
    return CreditOutcome(reply, account, refused)


def _answer(reservation: Reservation, command_id: str, saga_id: str) -> CreditReply:
    """The first answer for this order again, carrying the repeat's command id."""
    order = reservation.order
    if reservation.state is ReservationState.ACTIVE:
        return CreditReserved(command_id, saga_id, order, reservation.amount_minor)
    if reservation.state is ReservationState.REFUSED and reservation.refusal is not None:
        return CreditRefused(command_id, saga_id, order, reservation.refusal)
    return CreditRefused(command_id, saga_id, order, RefusalReason.RELEASED)


def _check_order(reservation: Reservation, order: str) -> None:
    if reservation.order != order:
        raise ValueError(f"the reservation of {reservation.order} is not {order}'s")
