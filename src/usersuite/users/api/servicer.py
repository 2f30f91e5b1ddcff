"""UserService over the handlers: maps requests to commands and domain users to protos."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc
from google.protobuf import empty_pb2

from user.v1 import user_pb2, user_pb2_grpc
from usersuite.platform.service import request_context
from usersuite.users.api.mapping import user_id_from_name, user_to_proto, users_page
from usersuite.users.service import commands
from usersuite.users.service.handlers import UserHandlers

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


class UserServicer(user_pb2_grpc.UserServiceServicer):
    def __init__(self, handlers: UserHandlers) -> None:
        self._handlers = handlers

    async def CreateUser(  # noqa: N802 - generated method names
        self, request: user_pb2.CreateUserRequest, context: Context
    ) -> user_pb2.User:
        user = await self._handlers.create_user(
            commands.CreateUser(
                display_name=request.user.display_name,
                email=request.user.email,
                user_id=request.user_id,
                request_id=request.request_id,
                principal=request_context.principal.get().subject,
            )
        )
        return user_to_proto(user)

    async def GetUser(  # noqa: N802
        self, request: user_pb2.GetUserRequest, context: Context
    ) -> user_pb2.User:
        user = await self._handlers.get_user(commands.GetUser(user_id_from_name(request.name)))
        return user_to_proto(user)

    async def ListUsers(  # noqa: N802
        self, request: user_pb2.ListUsersRequest, context: Context
    ) -> user_pb2.ListUsersResponse:
        page = await self._handlers.list_users(
            commands.ListUsers(page_size=request.page_size, page_token=request.page_token)
        )
        return users_page(page.users, page.next_page_token)

    async def UpdateUser(  # noqa: N802
        self, request: user_pb2.UpdateUserRequest, context: Context
    ) -> user_pb2.User:
        user = await self._handlers.update_user(
            commands.UpdateUser(
                user_id=user_id_from_name(request.user.name, field="user.name"),
                values={"display_name": request.user.display_name, "email": request.user.email},
                paths=list(request.update_mask.paths) if request.HasField("update_mask") else None,
                etag=request.user.etag,
                principal=request_context.principal.get().subject,
            )
        )
        return user_to_proto(user)

    async def DeleteUser(  # noqa: N802
        self, request: user_pb2.DeleteUserRequest, context: Context
    ) -> empty_pb2.Empty:
        await self._handlers.delete_user(
            commands.DeleteUser(
                user_id=user_id_from_name(request.name),
                etag=request.etag,
                principal=request_context.principal.get().subject,
            )
        )
        return empty_pb2.Empty()
