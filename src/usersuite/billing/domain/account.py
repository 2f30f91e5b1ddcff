"""The Account aggregate: a user's credit limit and the reservations the order saga holds on it."""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum

from usersuite.billing.domain.errors import AccountClosed, CreditLimitBelowReserved, InvalidValue
from usersuite.billing.domain.messages import (
    CreditRefused,
    CreditReleased,
    CreditReply,
    CreditReserved,
    RefusalReason,
)

CURRENCY_CODE_PATTERN = re.compile(r"[A-Z]{3}")
DEFAULT_CURRENCY_CODE = "EUR"
# Amounts travel as protobuf int64.
MINOR_UNITS_MAX = 2**63 - 1


def check_currency_code(value: str) -> str:
    if not CURRENCY_CODE_PATTERN.fullmatch(value):
        raise InvalidValue("must be an ISO 4217 code: three upper-case letters such as 'EUR'")
    return value


def check_minor_units(value: int) -> int:
    if not 0 <= value <= MINOR_UNITS_MAX:
        raise InvalidValue(f"must be between 0 and {MINOR_UNITS_MAX} minor units")
    return value


class AccountState(Enum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class ReservationState(Enum):
    ACTIVE = "ACTIVE"
    RELEASED = "RELEASED"
    # Kept so that a repeated ReserveCredit gets the same refusal even if the limit rose since.
    REFUSED = "REFUSED"


@dataclass(frozen=True)
class Reservation:
    """What billing decided for one order; kept after release so late commands meet it."""

    order: str
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
    """The account after a saga command, the reply to send, and the reservation to store.

    `reservation` is None when the command changed nothing (a repeat).
    """

    account: "Account"
    reply: CreditReply
    reservation: Reservation | None


@dataclass(frozen=True)
class Account:
    """A user's billing account; `version` counts changes of what a reader sees, from 1.

    `reserved_minor` is stored, not summed: it equals the sum of the ACTIVE reservations, yet
    `reservations` need only hold the ones a command looks at (its own order's).
    """

    user_id: str
    currency_code: str
    credit_limit_minor: int
    reserved_minor: int
    state: AccountState
    create_time: datetime
    update_time: datetime
    version: int
    reservations: Mapping[str, Reservation] = field(default_factory=dict)

    @classmethod
    def open(
        cls, user_id: str, *, currency_code: str, credit_limit_minor: int, now: datetime
    ) -> "Account":
        return cls(
            user_id=user_id,
            currency_code=check_currency_code(currency_code),
            credit_limit_minor=check_minor_units(credit_limit_minor),
            reserved_minor=0,
            state=AccountState.OPEN,
            create_time=now,
            update_time=now,
            version=1,
        )

    @property
    def name(self) -> str:
        return f"accounts/{self.user_id}"

    @property
    def user(self) -> str:
        return f"users/{self.user_id}"

    @property
    def etag(self) -> str:
        """An opaque checksum of this state; a new one for every version of every account."""
        state = f"{self.user_id}\x00{self.version}\x00{self.update_time.isoformat()}"
        return hashlib.blake2b(state.encode(), digest_size=12).hexdigest()

    def reserve(
        self,
        *,
        order: str,
        amount_minor: int,
        currency_code: str,
        command_id: str,
        saga_id: str,
        now: datetime,
    ) -> CreditOutcome:
        """Reserves `amount_minor` for `order`, once: a repeat gets the first answer again."""
        existing = self.reservations.get(order)
        if existing is not None:
            return CreditOutcome(self, _answer(existing, command_id, saga_id), None)
        check_minor_units(amount_minor)
        refusal = self._refusal(amount_minor, currency_code)
        if refusal is not None:
            refused = Reservation(
                order, ReservationState.REFUSED, amount_minor, command_id, refusal, now, now
            )
            return CreditOutcome(
                self._with_reservation(refused),
                CreditRefused(command_id, saga_id, order, refusal),
                refused,
            )
        active = Reservation(
            order, ReservationState.ACTIVE, amount_minor, command_id, None, now, now
        )
        account = replace(
            self._with_reservation(active),
            reserved_minor=self.reserved_minor + amount_minor,
            update_time=now,
            version=self.version + 1,
        )
        return CreditOutcome(
            account, CreditReserved(command_id, saga_id, order, amount_minor), active
        )

    def release(self, *, order: str, command_id: str, saga_id: str, now: datetime) -> CreditOutcome:
        """Releases `order`'s reservation; never refused, and a tombstone if there was none."""
        reply = CreditReleased(command_id, saga_id, order)
        existing = self.reservations.get(order)
        if existing is None:
            tombstone = Reservation(order, ReservationState.RELEASED, 0, None, None, now, now)
            return CreditOutcome(self._with_reservation(tombstone), reply, tombstone)
        if existing.state is ReservationState.RELEASED:
            return CreditOutcome(self, reply, None)
        released = replace(existing, state=ReservationState.RELEASED, update_time=now)
        account = self._with_reservation(released)
        if existing.state is ReservationState.ACTIVE:
            account = replace(
                account,
                reserved_minor=self.reserved_minor - existing.amount_minor,
                update_time=now,
                version=self.version + 1,
            )
        return CreditOutcome(account, reply, released)

    def with_credit_limit(self, credit_limit_minor: int, now: datetime) -> "Account":
        """The account with a new limit; never below what is reserved now."""
        check_minor_units(credit_limit_minor)
        if self.state is AccountState.CLOSED:
            raise AccountClosed(self.user_id)
        if credit_limit_minor < self.reserved_minor:
            raise CreditLimitBelowReserved(self.user_id, credit_limit_minor, self.reserved_minor)
        if credit_limit_minor == self.credit_limit_minor:
            return self
        return replace(
            self, credit_limit_minor=credit_limit_minor, update_time=now, version=self.version + 1
        )

    def close(self, now: datetime) -> "Account":
        """The closed account; its active reservations stay until their orders release them."""
        if self.state is AccountState.CLOSED:
            return self
        return replace(self, state=AccountState.CLOSED, update_time=now, version=self.version + 1)

    def _refusal(self, amount_minor: int, currency_code: str) -> RefusalReason | None:
        if self.state is AccountState.CLOSED:
            return RefusalReason.ACCOUNT_CLOSED
        if currency_code != self.currency_code:
            return RefusalReason.CURRENCY_MISMATCH
        if self.reserved_minor + amount_minor > self.credit_limit_minor:
            return RefusalReason.CREDIT_LIMIT_EXCEEDED
        return None

    def _with_reservation(self, reservation: Reservation) -> "Account":
        return replace(self, reservations={**self.reservations, reservation.order: reservation})


def refused_without_account(*, order: str, command_id: str, saga_id: str) -> CreditRefused:
    """The answer to a ReserveCredit naming an account that does not exist."""
    return CreditRefused(command_id, saga_id, order, RefusalReason.NO_ACCOUNT)


def _answer(reservation: Reservation, command_id: str, saga_id: str) -> CreditReply:
    """The first answer for this order again, carrying the repeat's command id."""
    order = reservation.order
    if reservation.state is ReservationState.ACTIVE:
        return CreditReserved(command_id, saga_id, order, reservation.amount_minor)
    if reservation.state is ReservationState.REFUSED and reservation.refusal is not None:
        return CreditRefused(command_id, saga_id, order, reservation.refusal)
    return CreditRefused(command_id, saga_id, order, RefusalReason.RELEASED)
