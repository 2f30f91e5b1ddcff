"""UserClient: a typed async client of user.v1.UserService over the generated stubs."""

from collections.abc import AsyncIterator

import grpc
from google.protobuf import field_mask_pb2

from user.v1 import user_pb2, user_pb2_grpc
from usersuite.client.base import ServiceClient, TokenSupply

__all__ = ["TokenSupply", "UserClient"]


class UserClient(ServiceClient):
    """user.v1.UserService; see ServiceClient for deadlines, tokens, the breaker and errors."""

    package = "user.v1"

    def _bind(self, channel: grpc.aio.Channel) -> None:
        self._stub = user_pb2_grpc.UserServiceStub(channel)

    async def create_user(
        self,
        display_name: str,
        email: str,
        *,
        user_id: str = "",
        request_id: str = "",
        deadline: float | None = None,
    ) -> user_pb2.User:
        """Creates a user; a `request_id` (a UUID) makes retries safe (AIP-155)."""
        request = user_pb2.CreateUserRequest(
            user=user_pb2.User(display_name=display_name, email=email),
            user_id=user_id,
            request_id=request_id,
        )
        user: user_pb2.User = await self._call(self._stub.CreateUser, request, deadline)
        return user

    async def get_user(self, name: str, *, deadline: float | None = None) -> user_pb2.User:
        request = user_pb2.GetUserRequest(name=name)
        user: user_pb2.User = await self._call(self._stub.GetUser, request, deadline)
        return user

    async def list_users(
        self, *, page_size: int = 0, page_token: str = "", deadline: float | None = None
    ) -> user_pb2.ListUsersResponse:
        request = user_pb2.ListUsersRequest(page_size=page_size, page_token=page_token)
        page: user_pb2.ListUsersResponse = await self._call(self._stub.ListUsers, request, deadline)
        return page

    async def pages(
        self, *, page_size: int = 0, deadline: float | None = None
    ) -> AsyncIterator[user_pb2.ListUsersResponse]:
        """Every page of ListUsers, following next_page_token to the end."""
        token = ""
        while True:
            page = await self.list_users(page_size=page_size, page_token=token, deadline=deadline)
            yield page
            token = page.next_page_token
            if not token:
                return

    async def update_user(
        self,
        name: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        etag: str = "",
        deadline: float | None = None,
    ) -> user_pb2.User:
        """Changes the given fields only (the update mask names them); with `etag`, only if
        nobody changed the user since (otherwise `Aborted` with reason ETAG_MISMATCH)."""
        user = user_pb2.User(name=name, etag=etag)
        paths = []
        if display_name is not None:
            user.display_name = display_name
            paths.append("display_name")
        if email is not None:
            user.email = email
            paths.append("email")
        request = user_pb2.UpdateUserRequest(
            user=user, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
        updated: user_pb2.User = await self._call(self._stub.UpdateUser, request, deadline)
        return updated

    async def delete_user(
        self, name: str, *, etag: str = "", deadline: float | None = None
    ) -> None:
        request = user_pb2.DeleteUserRequest(name=name, etag=etag)
        await self._call(self._stub.DeleteUser, request, deadline)
