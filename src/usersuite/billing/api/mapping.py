"""The one mapping between billing's generated protobuf types and its domain types."""

import re

from billing.v1 import billing_pb2, events_pb2, saga_pb2
from usersuite.billing.domain.account import Account, AccountState
from usersuite.billing.domain.errors import FieldViolation, ValidationFailed
from usersuite.billing.domain.events import (
    AccountClosed,
    AccountOpened,
    CreditLimitChanged,
    OutboundMessage,
)
from usersuite.billing.domain.messages import (
    CreditRefused,
    CreditReleased,
    CreditReserved,
    RefusalReason,
)
from usersuite.platform.grpc.timestamps import metadata_to_proto, set_time

ACCOUNT_PREFIX = "accounts/"
USER_PREFIX = "users/"
# The alphabet of user ids (client-chosen or generated); billing leaves users' finer rules to
# users: an id that names no account is NOT_FOUND.
USER_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
MAX_ECHOED_NAME = 80

_STATES = {
    AccountState.OPEN: billing_pb2.Account.STATE_OPEN,
    AccountState.CLOSED: billing_pb2.Account.STATE_CLOSED,
}
_REASONS = {
    RefusalReason.CREDIT_LIMIT_EXCEEDED: saga_pb2.CreditRefused.REASON_CREDIT_LIMIT_EXCEEDED,
    RefusalReason.NO_ACCOUNT: saga_pb2.CreditRefused.REASON_NO_ACCOUNT,
    RefusalReason.ACCOUNT_CLOSED: saga_pb2.CreditRefused.REASON_ACCOUNT_CLOSED,
    RefusalReason.CURRENCY_MISMATCH: saga_pb2.CreditRefused.REASON_CURRENCY_MISMATCH,
    RefusalReason.RELEASED: saga_pb2.CreditRefused.REASON_RELEASED,
}


def account_to_proto(account: Account) -> billing_pb2.Account:
    proto = billing_pb2.Account(
        name=account.name,
        user=account.user,
        currency_code=account.currency_code,
        credit_limit_minor=account.credit_limit_minor,
        reserved_minor=account.reserved_minor,
        state=_STATES[account.state],
        etag=account.etag,
    )
    set_time(proto.create_time, account.create_time)
    set_time(proto.update_time, account.update_time)
    return proto


def _id_of(name: str, prefix: str) -> str | None:
    user_id = name.removeprefix(prefix)
    if not name.startswith(prefix) or not USER_ID_PATTERN.fullmatch(user_id):
        return None
    return user_id


def user_id_from_account(name: str, field: str = "name") -> str:
    """The user id of an account name `accounts/{user_id}`; INVALID_ARGUMENT if malformed."""
    user_id = _id_of(name, ACCOUNT_PREFIX)
    if user_id is None:
        shown = name if len(name) <= MAX_ECHOED_NAME else name[:MAX_ECHOED_NAME] + "..."
        why = f"{field} must have the form accounts/{{user_id}}, got {shown!r}"
        raise ValidationFailed([FieldViolation(field, why)])
    return user_id


def user_id_of_account(name: str) -> str | None:
    """The user id of a saga command's account, None when it names none (refused NO_ACCOUNT)."""
    return _id_of(name, ACCOUNT_PREFIX)


def user_id_of_user(name: str) -> str | None:
    """The user id of a users/{user_id} name carried by a user.v1 event."""
    return _id_of(name, USER_PREFIX)


def encode_message(message: OutboundMessage) -> tuple[str, bytes]:
    """(the message's full protobuf name, its serialized protobuf) for the outbox."""
    meta = metadata_to_proto(events_pb2.EventMetadata, message.metadata)
    encoded: (
        events_pb2.AccountOpened
        | events_pb2.AccountClosed
        | events_pb2.CreditLimitChanged
        | saga_pb2.CreditReserved
        | saga_pb2.CreditRefused
        | saga_pb2.CreditReleased
    )
    match message:
        case AccountOpened():
            encoded = events_pb2.AccountOpened(
                metadata=meta, account=account_to_proto(message.account)
            )
        case AccountClosed():
            encoded = events_pb2.AccountClosed(
                metadata=meta, account=account_to_proto(message.account)
            )
        case CreditLimitChanged():
            encoded = events_pb2.CreditLimitChanged(
                metadata=meta,
                account=account_to_proto(message.account),
                previous_credit_limit_minor=message.previous_credit_limit_minor,
            )
        case _:
            encoded = _reply(meta, message.reply)
    return encoded.DESCRIPTOR.full_name, encoded.SerializeToString(deterministic=True)


def _reply(
    meta: events_pb2.EventMetadata, reply: CreditReserved | CreditRefused | CreditReleased
) -> saga_pb2.CreditReserved | saga_pb2.CreditRefused | saga_pb2.CreditReleased:
    ids = {"command_id": reply.command_id, "saga_id": reply.saga_id, "order": reply.order}
    match reply:
        case CreditReserved():
            return saga_pb2.CreditReserved(metadata=meta, amount_minor=reply.amount_minor, **ids)
        case CreditRefused():
            return saga_pb2.CreditRefused(metadata=meta, reason=_REASONS[reply.reason], **ids)
        case CreditReleased():
            return saga_pb2.CreditReleased(metadata=meta, **ids)
