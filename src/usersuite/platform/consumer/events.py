"""Our events as subscribers see them: decoding a JetStream message into an Event."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import DecodeError, Message
from nats.aio.msg import Msg


class UndecodableEvent(Exception):
    """The message is not an event this code knows; redelivering it cannot help."""


class _EventMetadata(Protocol):
    event_id: str
    aggregate_name: str
    aggregate_version: int

    def HasField(self, name: str) -> bool: ...  # noqa: N802 - protobuf's name

    @property
    def occurred_time(self) -> Any: ...


class _EventMessage(Protocol):
    @property
    def metadata(self) -> _EventMetadata: ...


def _is_event(descriptor: Descriptor) -> bool:
    """Our events carry their package's EventMetadata in a `metadata` field."""
    metadata = descriptor.fields_by_name.get("metadata")
    if metadata is None or metadata.message_type is None:
        return False
    return bool(metadata.message_type.name == "EventMetadata")


def event_class(event_type: str) -> type[Message] | None:
    """The generated class of an event, by full name, from the contract modules this process
    imported (every service's generated events register in protobuf's default pool)."""
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(event_type)
    except KeyError:
        return None
    return message_factory.GetMessageClass(descriptor) if _is_event(descriptor) else None


def decode_payload(event_type: str, data: bytes) -> Message:
    """The protobuf event named by `event_type` (the ce-type header, e.g. user.v1.UserCreated)."""
    found = event_class(event_type)
    if found is None:
        raise UndecodableEvent(f"unknown event type {event_type!r}")
    try:
        return found.FromString(data)
    except DecodeError as exc:
        raise UndecodableEvent(f"payload is not a valid {event_type}: {exc}") from None


@dataclass(frozen=True)
class Event:
    """What a handler receives: the decoded event and where it came from."""

    event_id: str
    type: str
    subject: str  # the NATS subject, user.v1.<EventName>
    time: datetime | None
    aggregate_name: str
    aggregate_version: int
    message: Message
    headers: Mapping[str, str]
    deliveries: int = 1


def to_event(msg: Msg) -> Event:
    headers = dict(msg.headers or {})
    event_type = headers.get("ce-type") or msg.subject
    message = decode_payload(event_type, msg.data)
    metadata = cast(_EventMessage, message).metadata
    event_id = headers.get("ce-id") or metadata.event_id
    if not event_id:
        raise UndecodableEvent("the event has no id (ce-id header or metadata.event_id)")
    time = None
    if headers.get("ce-time"):
        time = datetime.fromisoformat(headers["ce-time"])
    elif metadata.HasField("occurred_time"):
        time = metadata.occurred_time.ToDatetime(tzinfo=UTC)
    return Event(
        event_id=event_id,
        type=event_type,
        subject=msg.subject,
        time=time,
        aggregate_name=metadata.aggregate_name,
        aggregate_version=metadata.aggregate_version,
        message=message,
        headers=headers,
        deliveries=msg.metadata.num_delivered,
    )
