"""The e-mail rule the proto states is the rule the server applies (issue 9, point 11)."""

import re
from pathlib import Path

import grpc
import pytest

from tests.support.status import details_of
from tests.support.stubs import AsyncUserStub
from user.v1 import user_pb2

PROTO = Path(__file__).parents[2] / "proto" / "user" / "v1" / "user.proto"
SPECIAL_USE = [
    "a@drain.test",
    "a@mail.local",
    "a@example.invalid",
    "a@mail.localhost",
    "a@x.onion",
    "a@10.in-addr.arpa",
]


async def create(stub: AsyncUserStub, email: str) -> user_pb2.User:
    return await stub.CreateUser(
        user_pb2.CreateUserRequest(user=user_pb2.User(display_name="E", email=email))
    )


async def refusal(stub: AsyncUserStub, email: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(stub, email)
    details = details_of(caught.value)
    assert (details.code, details.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION_FAILED",
    )
    assert list(details.violations) == ["user.email"]
    return details.violations["user.email"]


@pytest.mark.parametrize("email", SPECIAL_USE)
async def test_special_use_domains_are_refused_naming_user_email(
    stub: AsyncUserStub, email: str
) -> None:
    assert "special-use or reserved" in await refusal(stub, email)


async def test_a_domain_without_a_dot_is_refused(stub: AsyncUserStub) -> None:
    assert "period" in await refusal(stub, "a@intranet")


async def test_documentation_domains_are_accepted(stub: AsyncUserStub) -> None:
    for email in ("a@example.com", "b@example.org", "c@mail.example.net"):
        assert (await create(stub, email)).email == email


def test_the_proto_comment_states_the_special_use_rule() -> None:
    comment = re.search(r"((?:\s*//.*\n)+)\s*string email = 3;", PROTO.read_text())
    assert comment is not None
    text = " ".join(line.strip(" /") for line in comment.group(1).splitlines())
    for name in ("test", "local", "invalid", "localhost", "onion", "arpa"):
        assert f"`{name}`" in text, f"the proto does not say that {name} is refused"
    assert "once normalised" in text
