"""The API as a user meets it: a real `usersuite serve`, real grpcurl with reflection only."""

import uuid

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2

from tests.support.grpcurl import Grpcurl
from tests.support.processes import UsersuiteProcess
from tests.support.user_api import (
    CREATE,
    DELETE,
    GENERATED_NAME,
    GET,
    LIST,
    NOT_FOUND,
    SERVICE,
    UPDATE,
    assert_error,
    create,
    new_user,
    timestamp,
    unique,
)

# --- reflection: the API reference ------------------------------------------------------------


def test_list_shows_every_service(grpcurl: Grpcurl) -> None:
    services = set(grpcurl.inspect("list").split())

    assert services == {
        SERVICE,
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }


def test_describe_service_shows_its_methods_and_proto_comments(grpcurl: Grpcurl) -> None:
    text = grpcurl.inspect("describe", SERVICE)

    for method in ("CreateUser", "GetUser", "ListUsers", "UpdateUser", "DeleteUser"):
        assert f"rpc {method} (" in text, text
    # The comments are the API reference a grpcurl user reads.
    assert "// UserService manages the lifecycle of User resources." in text, text
    assert "// Deletes a user. A second delete of the same user returns NOT_FOUND." in text, text


def test_describe_user_shows_its_fields_and_proto_comments(grpcurl: Grpcurl) -> None:
    text = grpcurl.inspect("describe", "user.v1.User")

    for field in ("name = 1", "display_name = 2", "email = 3", "etag = 6"):
        assert field in text, text
    assert "// A person who can use the suite." in text, text
    assert "// Required. The name shown to people." in text, text
    assert "// A checksum of the user's current state, computed by the server" in text, text


def reflection_call(
    target: str, service: str, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    """One request on `service`'s ServerReflectionInfo stream. v1 and v1alpha share a wire format,
    so the v1alpha message classes serve both."""
    with grpc.insecure_channel(target) as channel:
        info = channel.stream_stream(
            f"/{service}/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        responses = list(info(iter([request]), timeout=30))
    assert len(responses) == 1, responses
    return responses[0]


@pytest.mark.parametrize(
    "reflection_service",
    ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"],
)
def test_reflection_answers_under_v1_and_v1alpha(
    shared_server: UsersuiteProcess, reflection_service: str
) -> None:
    listed = reflection_call(
        shared_server.target,
        reflection_service,
        reflection_pb2.ServerReflectionRequest(list_services=""),
    )
    names = {s.name for s in listed.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health", reflection_service} <= names

    found = reflection_call(
        shared_server.target,
        reflection_service,
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE),
    )
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in found.file_descriptor_response.file_descriptor_proto
    ]
    user_proto = next(f for f in files if f.name == "user/v1/user.proto")
    assert [s.name for s in user_proto.service] == ["UserService"]


# --- every RPC through grpcurl with JSON --------------------------------------------------------


def test_create_user_generates_an_id_and_normalises_the_email(grpcurl: Grpcurl) -> None:
    local = unique("mixed")
    user = create(
        grpcurl, user={"display_name": "  Ada Lovelace  ", "email": f"{local}@EXAMPLE.com"}
    )

    assert GENERATED_NAME.match(user["name"]), user
    assert user["displayName"] == "Ada Lovelace"
    assert user["email"] == f"{local}@example.com"
    assert user["createTime"] == user["updateTime"]
    assert user["etag"]


def test_create_user_with_a_chosen_id(grpcurl: Grpcurl) -> None:
    user_id = unique("ada")
    user = create(grpcurl, user_id=user_id)

    assert user["name"] == f"users/{user_id}"
    assert grpcurl.ok(GET, {"name": user["name"]}) == user


def test_create_user_retry_with_the_same_request_id_returns_the_identical_response(
    grpcurl: Grpcurl,
) -> None:
    request = {"user": new_user("retry"), "request_id": str(uuid.uuid4())}

    first = grpcurl.ok(CREATE, request)
    second = grpcurl.ok(CREATE, request)

    # Same generated name, same times and etag: the retry created no second user.
    assert second == first
    assert GENERATED_NAME.match(first["name"])
    assert grpcurl.ok(GET, {"name": first["name"]}) == first


def test_get_user_returns_the_created_user(grpcurl: Grpcurl) -> None:
    user = create(grpcurl)

    assert grpcurl.ok(GET, {"name": user["name"]}) == user


def test_list_users_pages_with_page_size_and_next_page_token(
    grpcurl_bin: str, fresh_server: UsersuiteProcess
) -> None:
    grpcurl = Grpcurl(grpcurl_bin, fresh_server.target)
    created = [create(grpcurl, user_id=f"page-{i}")["name"] for i in range(5)]

    pages: list[list[str]] = []
    token = ""
    while True:
        response = grpcurl.ok(LIST, {"page_size": 2, "page_token": token})
        pages.append([u["name"] for u in response.get("users", [])])
        token = response.get("nextPageToken", "")
        if not token:
            break
        assert len(pages) < 10, f"paging does not end: {pages}"

    assert pages == [created[0:2], created[2:4], created[4:5]]
    everything = grpcurl.ok(LIST, {})
    assert [u["name"] for u in everything["users"]] == created
    assert "nextPageToken" not in everything


def test_update_user_with_update_mask_and_etag(grpcurl: Grpcurl) -> None:
    user = create(grpcurl)

    updated = grpcurl.ok(
        UPDATE,
        {
            "user": {"name": user["name"], "display_name": "Renamed", "etag": user["etag"]},
            # grpcurl reads a FieldMask only in its object form, not the canonical JSON string.
            "update_mask": {"paths": ["display_name"]},
        },
    )

    assert updated["name"] == user["name"]
    assert updated["displayName"] == "Renamed"
    assert updated["email"] == user["email"]
    assert updated["etag"] != user["etag"]
    assert updated["createTime"] == user["createTime"]
    assert timestamp(updated["updateTime"]) > timestamp(user["updateTime"])
    assert grpcurl.ok(GET, {"name": user["name"]}) == updated

    email = f"{unique('moved')}@example.com"
    moved = grpcurl.ok(
        UPDATE,
        {
            "user": {"name": user["name"], "display_name": "ignored", "email": email},
            "update_mask": {"paths": ["email"]},
        },
    )
    assert moved["email"] == email
    assert moved["displayName"] == "Renamed", "a field outside the mask changed"


def test_delete_user_then_get_user_is_not_found(grpcurl: Grpcurl) -> None:
    user = create(grpcurl)

    assert grpcurl.ok(DELETE, {"name": user["name"], "etag": user["etag"]}) == {}

    status = grpcurl.error(GET, {"name": user["name"]}, NOT_FOUND)
    assert assert_error(status, "USER_NOT_FOUND")["metadata"] == {"name": user["name"]}
    again = grpcurl.error(DELETE, {"name": user["name"]}, NOT_FOUND)
    assert_error(again, "USER_NOT_FOUND")


# --- health --------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["", SERVICE])
def test_health_check_serving(grpcurl: Grpcurl, service: str) -> None:
    assert grpcurl.ok("grpc.health.v1.Health/Check", {"service": service}) == {"status": "SERVING"}


def test_health_check_of_an_unknown_service_is_not_found(grpcurl: Grpcurl) -> None:
    result = grpcurl.call("grpc.health.v1.Health/Check", {"service": "no.such.Service"})

    assert result.returncode == 64 + NOT_FOUND, str(result)
