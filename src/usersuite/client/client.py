"""UserClient: a typed async client of user.v1.UserService over the generated stubs."""

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import grpc
from google.protobuf import field_mask_pb2
from opentelemetry import propagate

from user.v1 import user_pb2, user_pb2_grpc
from usersuite.client.breaker import CircuitBreaker
from usersuite.client.channel import default_timeout, load_service_config, open_channel
from usersuite.client.errors import error_from

# A token, or a function (plain or async) called before every call, e.g. to refresh it.
TokenSupply = str | Callable[[], str] | Callable[[], Awaitable[str]]
Metadata = Iterable[tuple[str, str | bytes]]


class UserClient:
    """Every call has a deadline (`deadline` seconds, else the service config timeout), carries the
    token and the current trace context (`traceparent`), passes the circuit breaker, and fails
    with a typed `UserServiceError` that carries the ErrorInfo reason and BadRequest fields."""

    def __init__(
        self,
        target: str,
        *,
        token: TokenSupply | None = None,
        service_config: Path | None = None,
        breaker: CircuitBreaker | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        config = load_service_config(service_config)
        self.timeout = default_timeout(config)
        self.breaker = breaker or CircuitBreaker()
        self._token = token
        self._channel = open_channel(target, config, credentials)
        self._stub = user_pb2_grpc.UserServiceStub(self._channel)

    async def __aenter__(self) -> "UserClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close(None)

    async def _metadata(self) -> Sequence[tuple[str, str]]:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        if self._token is not None:
            token = self._token() if callable(self._token) else self._token
            if inspect.isawaitable(token):
                token = await token
            carrier["authorization"] = f"Bearer {token}"
        return tuple(carrier.items())

    async def _call(self, method: Any, request: Any, deadline: float | None) -> Any:
        self.breaker.before_call()
        try:
            reply = await method(
                request,
                timeout=self.timeout if deadline is None else deadline,
                metadata=await self._metadata(),
            )
        except grpc.aio.AioRpcError as failure:
            self.breaker.record(failure.code())
            # grpc-stubs types metadata entries as objects; at run time they are (key, value).
            trailing = cast(Metadata, failure.trailing_metadata() or ())
            raise error_from(failure.code(), failure.details() or "", trailing) from failure
        self.breaker.record(grpc.StatusCode.OK)
        return reply

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
