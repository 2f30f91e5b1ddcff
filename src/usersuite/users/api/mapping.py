"""The one mapping between generated protobuf types and domain types."""

from google.protobuf.field_mask_pb2 import FieldMask

from user.v1 import events_pb2, user_pb2
from usersuite.platform.grpc.timestamps import metadata_to_proto, set_time
from usersuite.users.domain.errors import FieldViolation, InvalidValue, ValidationFailed
from usersuite.users.domain.events import DomainEvent, UserCreated, UserUpdated
from usersuite.users.domain.model import User, check_user_id

NAME_PREFIX = "users/"


def user_to_proto(user: User) -> user_pb2.User:
    # The times are written into the message's own fields: a Timestamp passed to the
    # constructor is built and then copied in, a second object per field for nothing.
    proto = user_pb2.User(
        name=user.name, display_name=user.display_name, email=user.email, etag=user.etag
    )
    set_time(proto.create_time, user.create_time)
    set_time(proto.update_time, user.update_time)
    return proto


def user_id_from_name(name: str, field: str = "name") -> str:
    """The user id of a resource name `users/{user_id}`; INVALID_ARGUMENT if malformed."""
    user_id = name.removeprefix(NAME_PREFIX)
    if not name.startswith(NAME_PREFIX) or not user_id or "/" in user_id:
        shown = name if len(name) <= 80 else name[:80] + "..."
        raise ValidationFailed(
            [FieldViolation(field, f"{field} must have the form users/{{user_id}}, got {shown!r}")]
        )
    try:
        return check_user_id(user_id, allow_generated=True)
    except InvalidValue as exc:
        raise ValidationFailed([FieldViolation(field, f"{field}: the user id {exc}")]) from None


def encode_event(event: DomainEvent) -> tuple[str, bytes]:
    """(the event's full protobuf name, its serialized protobuf message) for the outbox."""
    meta = metadata_to_proto(events_pb2.EventMetadata, event.metadata)
    message: events_pb2.UserCreated | events_pb2.UserUpdated | events_pb2.UserDeleted
    if isinstance(event, UserCreated):
        message = events_pb2.UserCreated(metadata=meta, user=user_to_proto(event.user))
    elif isinstance(event, UserUpdated):
        message = events_pb2.UserUpdated(
            metadata=meta,
            user=user_to_proto(event.user),
            changed_fields=FieldMask(paths=list(event.changed_fields)),
        )
    else:
        message = events_pb2.UserDeleted(metadata=meta, name=event.name)
    return message.DESCRIPTOR.full_name, message.SerializeToString(deterministic=True)
