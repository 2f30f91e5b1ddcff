"""What orders tells the world: order events and the saga's commands, each with its metadata."""

from dataclasses import dataclass
from enum import Enum

from usersuite.orders.domain.messages import SagaCommand
from usersuite.orders.domain.order import Order
from usersuite.platform.domain.events import EventMetadata


class OrderChange(Enum):
    CREATED = "OrderCreated"
    APPROVED = "OrderApproved"
    REJECTED = "OrderRejected"
    CANCELLED = "OrderCancelled"


@dataclass(frozen=True)
class OrderEvent:
    metadata: EventMetadata
    change: OrderChange
    order: Order


@dataclass(frozen=True)
class CommandSent:
    """One send of a saga command; a re-send has a new event id and the same command id."""

    metadata: EventMetadata
    command: SagaCommand


OutboxMessage = OrderEvent | CommandSent
