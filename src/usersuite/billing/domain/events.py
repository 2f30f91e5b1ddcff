"""What billing tells the world: account events, and the saga replies, each with its metadata."""

from dataclasses import dataclass

from usersuite.billing.domain.account import Account
from usersuite.billing.domain.messages import CreditReply
from usersuite.platform.domain.events import EventMetadata


@dataclass(frozen=True)
class AccountOpened:
    metadata: EventMetadata
    account: Account


@dataclass(frozen=True)
class AccountClosed:
    metadata: EventMetadata
    account: Account


@dataclass(frozen=True)
class CreditLimitChanged:
    metadata: EventMetadata
    account: Account
    previous_credit_limit_minor: int


@dataclass(frozen=True)
class ReplySent:
    """A saga reply on its way to the orders service; its aggregate is the order, so a saga's
    messages keep their order."""

    metadata: EventMetadata
    reply: CreditReply


AccountEvent = AccountOpened | AccountClosed | CreditLimitChanged
OutboundMessage = AccountEvent | ReplySent
