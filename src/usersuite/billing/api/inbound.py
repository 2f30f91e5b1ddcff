"""Billing's message edge: the events and saga commands its consumer receives, as commands."""

# The platform consumer calls the handler inside the transaction that records the message in the
# inbox; the use case runs in a unit of work joining that connection, so the inbox row, the effect
# and the reply (written to billing's outbox) commit together or not at all.

from collections.abc import Callable
from typing import cast

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.v1 import saga_pb2
from user.v1 import events_pb2 as user_events
from usersuite.billing.api.mapping import user_id_of_account, user_id_of_user
from usersuite.billing.service import commands
from usersuite.billing.service.credit import CreditHandlers
from usersuite.billing.service.unit_of_work import UnitOfWork
from usersuite.platform.consumer.events import Event

USER_CREATED = user_events.UserCreated.DESCRIPTOR.full_name
USER_DELETED = user_events.UserDeleted.DESCRIPTOR.full_name
RESERVE_CREDIT = saga_pb2.ReserveCredit.DESCRIPTOR.full_name
RELEASE_CREDIT = saga_pb2.ReleaseCredit.DESCRIPTOR.full_name
# What billing's durable consumer asks JetStream for (subject = the message's full name).
SUBJECTS = (USER_CREATED, USER_DELETED, RESERVE_CREDIT, RELEASE_CREDIT)


class UnexpectedMessage(Exception):
    """A message billing did not subscribe to, or one that names nothing it can act on."""


class InboundMessages:
    """The consumer's handler: `uow_on` makes a unit of work that joins the consumer's
    connection (bootstrap passes it, so this edge never imports the adapters)."""

    def __init__(
        self, handlers: CreditHandlers, uow_on: Callable[[AsyncConnection], UnitOfWork]
    ) -> None:
        self._handlers = handlers
        self._uow_on = uow_on

    async def __call__(self, event: Event, conn: AsyncConnection) -> None:
        handlers = self._handlers
        message: Message = event.message
        async with self._uow_on(conn) as uow:
            match event.type:
                case "user.v1.UserCreated":
                    created = cast(user_events.UserCreated, message)
                    opening = commands.OpenAccount(
                        _user_id(created.user.name), created.metadata.principal
                    )
                    await handlers.open_account(uow, opening)
                case "user.v1.UserDeleted":
                    deleted = cast(user_events.UserDeleted, message)
                    closing = commands.CloseAccount(
                        _user_id(deleted.name), deleted.metadata.principal
                    )
                    await handlers.close_account(uow, closing)
                case "billing.v1.ReserveCredit":
                    reserve = reserve_command(cast(saga_pb2.ReserveCredit, message))
                    await handlers.reserve_credit(uow, reserve)
                case "billing.v1.ReleaseCredit":
                    release = release_command(cast(saga_pb2.ReleaseCredit, message))
                    await handlers.release_credit(uow, release)
                case _:
                    raise UnexpectedMessage(f"billing does not handle {event.type}")


def _user_id(name: str) -> str:
    user_id = user_id_of_user(name)
    if user_id is None:
        raise UnexpectedMessage(f"{name!r} is not a user's name")
    return user_id


def reserve_command(message: saga_pb2.ReserveCredit) -> commands.ReserveCredit:
    return commands.ReserveCredit(
        command_id=message.command_id,
        saga_id=message.saga_id,
        order=message.order,
        user_id=user_id_of_account(message.account),
        amount_minor=message.amount_minor,
        currency_code=message.currency_code,
        principal=message.metadata.principal,
    )


def release_command(message: saga_pb2.ReleaseCredit) -> commands.ReleaseCredit:
    return commands.ReleaseCredit(
        command_id=message.command_id,
        saga_id=message.saga_id,
        order=message.order,
        principal=message.metadata.principal,
    )
