"""The mapping between domain types and the generated protobuf types."""

from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.message import Message

from user.v1 import events_pb2, user_pb2
from usersuite.platform.domain.events import EventMetadata
from usersuite.users.api.mapping import encode_event, user_id_from_name, user_to_proto
from usersuite.users.domain.errors import ValidationFailed
from usersuite.users.domain.events import UserCreated, UserDeleted, UserUpdated
from usersuite.users.domain.model import User

CREATED = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
UPDATED = CREATED + timedelta(days=1, microseconds=1)
USER = User(
    id="ada-lovelace",
    display_name="Ada Lovelace",
    email="ada@example.com",
    create_time=CREATED,
    update_time=UPDATED,
    version=3,
)


def metadata(version: int) -> EventMetadata:
    return EventMetadata(
        event_id="2b0e6f55-6a51-4d3f-9c3e-6f1e5c0d7a10",
        occurred_time=UPDATED,
        aggregate_name="users/ada-lovelace",
        aggregate_version=version,
        principal="alice",
    )


def test_user_to_proto_carries_every_field() -> None:
    proto = user_to_proto(USER)

    assert proto.name == "users/ada-lovelace"
    assert proto.display_name == "Ada Lovelace"
    assert proto.email == "ada@example.com"
    assert proto.create_time.ToDatetime(tzinfo=UTC) == CREATED
    assert proto.update_time.ToDatetime(tzinfo=UTC) == UPDATED
    assert proto.etag == USER.etag
    assert proto.etag


def test_user_to_proto_survives_the_wire() -> None:
    proto = user_to_proto(USER)
    assert user_pb2.User.FromString(proto.SerializeToString()) == proto


def test_user_id_from_a_good_name() -> None:
    assert user_id_from_name("users/ada-lovelace") == "ada-lovelace"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "ada-lovelace",  # missing prefix
        "user/ada-lovelace",
        "Users/ada-lovelace",
        "/users/ada-lovelace",
        "users/",  # empty id
        "users/ada/lovelace",  # extra slash
        "users/ada-lovelace/",
        "users//ada",
    ],
)
def test_malformed_names_fail_on_the_named_field(name: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        user_id_from_name(name, field="user.name")

    assert [v.field for v in caught.value.violations] == ["user.name"]
    assert "users/{user_id}" in caught.value.violations[0].description


def test_malformed_name_defaults_to_the_name_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        user_id_from_name("nope")

    assert [v.field for v in caught.value.violations] == ["name"]


def parse(full_name: str, payload: bytes, message_type: type[Message]) -> Message:
    assert full_name == message_type.DESCRIPTOR.full_name
    return message_type.FromString(payload)


def assert_metadata(meta: events_pb2.EventMetadata, version: int) -> None:
    assert meta.event_id == "2b0e6f55-6a51-4d3f-9c3e-6f1e5c0d7a10"
    assert meta.occurred_time.ToDatetime(tzinfo=UTC) == UPDATED
    assert meta.aggregate_name == "users/ada-lovelace"
    assert meta.aggregate_version == version
    assert meta.principal == "alice"


def test_encode_user_created() -> None:
    full_name, payload = encode_event(UserCreated(metadata(1), USER))

    assert full_name == "user.v1.UserCreated"
    message = parse(full_name, payload, events_pb2.UserCreated)
    assert isinstance(message, events_pb2.UserCreated)
    assert_metadata(message.metadata, 1)
    assert message.user == user_to_proto(USER)


def test_encode_user_updated() -> None:
    full_name, payload = encode_event(UserUpdated(metadata(3), USER, ("display_name", "email")))

    assert full_name == "user.v1.UserUpdated"
    message = parse(full_name, payload, events_pb2.UserUpdated)
    assert isinstance(message, events_pb2.UserUpdated)
    assert_metadata(message.metadata, 3)
    assert message.user == user_to_proto(USER)
    assert list(message.changed_fields.paths) == ["display_name", "email"]


def test_encode_user_deleted() -> None:
    full_name, payload = encode_event(UserDeleted(metadata(4), "users/ada-lovelace"))

    assert full_name == "user.v1.UserDeleted"
    message = parse(full_name, payload, events_pb2.UserDeleted)
    assert isinstance(message, events_pb2.UserDeleted)
    assert_metadata(message.metadata, 4)
    assert message.name == "users/ada-lovelace"


def test_encoding_is_deterministic() -> None:
    event = UserUpdated(metadata(2), USER, ("email",))
    assert encode_event(event) == encode_event(event)
