"""The Account aggregate: a user's currency, credit limit and the total reserved against it."""

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from usersuite.billing.domain.errors import AccountClosed, CreditLimitBelowReserved, InvalidValue
from usersuite.billing.domain.messages import RefusalReason

CURRENCY_CODE_PATTERN = re.compile(r"[A-Z]{3}")
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


@dataclass(frozen=True)
class Account:
    """A user's billing account; `version` counts changes of what a reader sees, from 1.

    `reserved_minor` is stored, not summed: it equals the sum of the account's ACTIVE
    reservations (reservations.py), which are rows of their own, keyed by order.
    """

    user_id: str
    currency_code: str
    credit_limit_minor: int
    reserved_minor: int
    state: AccountState
    create_time: datetime
    update_time: datetime
    version: int

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

    def refusal_for(self, amount_minor: int, currency_code: str) -> RefusalReason | None:
        """Why a new reservation of `amount_minor` would be refused, or None if it fits."""
        if self.state is AccountState.CLOSED:
            return RefusalReason.ACCOUNT_CLOSED
        if currency_code != self.currency_code:
            return RefusalReason.CURRENCY_MISMATCH
        if self.reserved_minor + amount_minor > self.credit_limit_minor:
            return RefusalReason.CREDIT_LIMIT_EXCEEDED
        return None

    def with_reserved(self, reserved_minor: int, now: datetime) -> "Account":
        """The account holding `reserved_minor` in all; reservations.py keeps the sum right."""
        return replace(
            self, reserved_minor=reserved_minor, update_time=now, version=self.version + 1
        )

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
