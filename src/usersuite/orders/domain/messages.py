"""The saga's commands orders sends and the replies it receives (billing.v1 saga.proto's shape).

Orders never imports billing: these mirror the contract in orders' own words.
"""

from dataclasses import dataclass
from enum import Enum


class RefusalReason(Enum):
    """Why billing refused a reservation (billing.v1 CreditRefused.Reason)."""

    CREDIT_LIMIT_EXCEEDED = "CREDIT_LIMIT_EXCEEDED"
    NO_ACCOUNT = "NO_ACCOUNT"
    ACCOUNT_CLOSED = "ACCOUNT_CLOSED"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    RELEASED = "RELEASED"


@dataclass(frozen=True)
class ReserveCredit:
    command_id: str
    saga_id: str
    order: str
    account: str
    amount_minor: int
    currency_code: str


@dataclass(frozen=True)
class ReleaseCredit:
    command_id: str
    saga_id: str
    order: str


@dataclass(frozen=True)
class CreditReserved:
    command_id: str
    saga_id: str
    order: str
    amount_minor: int


@dataclass(frozen=True)
class CreditRefused:
    command_id: str
    saga_id: str
    order: str
    reason: RefusalReason


@dataclass(frozen=True)
class CreditReleased:
    command_id: str
    saga_id: str
    order: str


SagaCommand = ReserveCredit | ReleaseCredit
CreditReply = CreditReserved | CreditRefused | CreditReleased
