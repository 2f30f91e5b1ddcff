"""Our events as subscribers see them: decoding a JetStream message into an Event."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, cast

from google.protobuf import message_factory
from google.protobuf.message import DecodeError, Message
from nats.aio.msg import Msg

from user.v1 import events_pb2


class UndecodableEvent(Exception):
    """The message is not an event this code knows; redelivering it cannot help."""


class _EventMessage(Protocol):
    @property
    def metadata(self) -> events_pb2.EventMetadata: ...


def _event_classes() -> dict[str, type[Message]]:
    """Every message of events.proto that carries EventMetadata, by full name."""
    classes: dict[str, type[Message]] = {}
    for descriptor in events_pb2.DESCRIPTOR.message_types_by_name.values():
        metadata = descriptor.fields_by_name.get("metadata")
        if metadata is not None and metadata.message_type is events_pb2.EventMetadata.DESCRIPTOR:
            classes[descriptor.full_name] = message_factory.GetMessageClass(descriptor)
    return classes


EVENT_CLASSES = _event_classes()


def decode_payload(event_type: str, data: bytes) -> Message:
    """The protobuf event named by `event_type` (the ce-type header, e.g. user.v1.UserCreated)."""
    event_class = EVENT_CLASSES.get(event_type)
    if event_class is None:
        raise UndecodableEvent(f"unknown event type {event_type!r}")
    try:
        return event_class.FromString(data)
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
