"""The one mapping between generated protobuf types and domain types."""

from google.protobuf.field_mask_pb2 import FieldMask

from user.v1 import events_pb2, user_pb2
from usersuite.platform.grpc.timestamps import metadata_to_proto, set_time
from usersuite.users.domain.errors import FieldViolation, InvalidValue, ValidationFailed
from usersuite.users.domain.events import DomainEvent, UserCreated, UserUpdated
from usersuite.users.domain.model import User, check_user_id

NAME_PREFIX = "users/"


def user_to_proto(user: User) -> user_pb2.User:
    proto = user_pb2.User()
    fill_user(proto, user)
    return proto


def fill_user(proto: user_pb2.User, user: User) -> None:
    """Writes `user` into a message in place (a page's `users.add()`: no copy into the list).

    The times too are written into the message's own fields: a Timestamp passed to the
    constructor is built and then copied in, a second object per field for nothing."""
    proto.name = user.name
    proto.display_name = user.display_name
    proto.email = user.email
    proto.etag = user.etag
    set_time(proto.create_time, user.create_time)
    set_time(proto.update_time, user.update_time)


def users_page(users: list[User], next_page_token: str) -> user_pb2.ListUsersResponse:
    """A ListUsers response, each user written straight into the page's repeated field."""
    response = user_pb2.ListUsersResponse(next_page_token=next_page_token)
    add = response.users.add
    for user in users:
        fill_user(add(), user)
    return response


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
