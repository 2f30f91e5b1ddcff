"""A transition's outbox rows: its commands and the order's event, sharing their metadata."""

from collections.abc import Callable
from datetime import datetime

from usersuite.orders.domain.events import CommandSent, OrderChange, OrderEvent
from usersuite.orders.domain.order import Order, OrderState
from usersuite.orders.domain.saga import Transition
from usersuite.orders.service.unit_of_work import Outbox
from usersuite.platform.domain.events import EventMetadata

CHANGE_FOR_STATE = {
    OrderState.APPROVED: OrderChange.APPROVED,
    OrderState.REJECTED: OrderChange.REJECTED,
    OrderState.CANCELLED: OrderChange.CANCELLED,
}


class Messages:
    """Builds metadata with a fresh event id per message (a re-send is a new message)."""

    def __init__(self, new_event_id: Callable[[], str]) -> None:
        self._new_event_id = new_event_id

    def metadata(self, order: Order, when: datetime, principal: str = "") -> EventMetadata:
        return EventMetadata(self._new_event_id(), when, order.name, order.version, principal)

    async def write(
        self, outbox: Outbox, transition: Transition, when: datetime, principal: str = ""
    ) -> None:
        """The order's event first, then the commands: a consumer sees the state change first."""
        order = transition.order
        if transition.order_change is not None:
            change = CHANGE_FOR_STATE[transition.order_change]
            await outbox.append(OrderEvent(self.metadata(order, when, principal), change, order))
        for command in transition.commands:
            await outbox.append(CommandSent(self.metadata(order, when, principal), command))
