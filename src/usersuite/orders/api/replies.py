"""Billing's replies as the platform consumer hands them over: decoded and applied in the
consumer's transaction (the one that records the inbox row), so one reply has one effect."""

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.orders.api.mapping import reply_from_proto
from usersuite.orders.service.saga_handlers import SagaHandlers
from usersuite.orders.service.unit_of_work import UnitOfWork
from usersuite.platform.consumer.events import Event

log = logging.getLogger(__name__)

# usersuite.platform.consumer's Handler, named here so the API edge loads no database code.
Handler = Callable[[Event, AsyncConnection], Awaitable[None]]


def reply_handler(sagas: SagaHandlers, uow_on: Callable[[AsyncConnection], UnitOfWork]) -> Handler:
    """The consumer's handler; `uow_on` binds the repositories to the consumer's connection."""

    async def handle(event: Event, conn: AsyncConnection) -> None:
        reply = reply_from_proto(event.message)
        if reply is None:  # not for orders (an unknown refusal reason, another message)
            log.warning("message %s (%s) is no reply orders understands; skipped",
                        event.event_id, event.type)  # fmt: skip
            return
        async with uow_on(conn) as uow:
            await sagas.on_reply(uow, reply)

    return handle
