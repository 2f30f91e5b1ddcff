"""The saga's replies billing sends, in the domain's words (billing.v1 saga.proto's shape)."""

from dataclasses import dataclass
from enum import Enum


class RefusalReason(Enum):
    """Why a reservation was refused (billing.v1 CreditRefused.Reason)."""

    CREDIT_LIMIT_EXCEEDED = "CREDIT_LIMIT_EXCEEDED"
    NO_ACCOUNT = "NO_ACCOUNT"
    ACCOUNT_CLOSED = "ACCOUNT_CLOSED"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    RELEASED = "RELEASED"


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


CreditReply = CreditReserved | CreditRefused | CreditReleased
