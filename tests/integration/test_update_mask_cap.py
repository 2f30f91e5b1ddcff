"""An update mask of many or long bad paths is INVALID_ARGUMENT with bounded details (issue 21)."""

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from tests.support.serving import served_channel
from tests.support.status import failure
from tests.support.stubs import AsyncUserStub
from user.v1 import user_pb2
from usersuite.users.service.handlers import MAX_UPDATE_MASK_PATHS

pytestmark = pytest.mark.integration
USER = user_pb2.User(name="users/ada-lovelace", display_name="Ada")


async def test_a_mask_of_too_many_paths_is_refused_as_a_whole(sqlite_url: str) -> None:
    paths = [f"no_such_field_number_{index:04d}" for index in range(150)]
    async with served_channel(sqlite_url) as channel:
        stub = AsyncUserStub(channel)
        request = user_pb2.UpdateUserRequest(user=USER, update_mask=FieldMask(paths=paths))
        details = await failure(stub.UpdateUser(request, timeout=10))
    assert (details.code, details.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert details.violations == {
        "update_mask": f"update_mask names 150 paths; at most {MAX_UPDATE_MASK_PATHS} are accepted"
    }


async def test_long_bad_paths_are_shortened_in_their_violations(sqlite_url: str) -> None:
    paths = [f"{index:02d}" + "x" * 2000 for index in range(MAX_UPDATE_MASK_PATHS)]
    async with served_channel(sqlite_url) as channel:
        stub = AsyncUserStub(channel)
        request = user_pb2.UpdateUserRequest(user=USER, update_mask=FieldMask(paths=paths))
        details = await failure(stub.UpdateUser(request, timeout=10))
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert len(details.violations) == MAX_UPDATE_MASK_PATHS
    first = details.violations["update_mask.paths[0]"]
    assert first == f"'00{'x' * 62}...' is not a field of User"
