"""A UserService stub on an asyncio channel: its type for annotations, and calls the API tests
share.

mypy-protobuf declares `UserServiceAsyncStub` in the .pyi only (the stub built on a
`grpc.aio.Channel` is that type to the checker); at run time the class is `UserServiceStub`.
"""

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from user.v1 import user_pb2
from usersuite.bootstrap import UsersContainer
from usersuite.platform.db.tables import outbox

if TYPE_CHECKING:
    from user.v1.user_pb2_grpc import UserServiceAsyncStub as AsyncUserStub
else:
    from user.v1.user_pb2_grpc import UserServiceStub as AsyncUserStub

__all__ = ["AsyncUserStub", "create", "events", "new_user"]


def new_user(name: str = "Ada Lovelace", email: str = "ada@example.com") -> user_pb2.User:
    return user_pb2.User(display_name=name, email=email)


async def create(stub: AsyncUserStub, **kwargs: Any) -> user_pb2.User:
    user = kwargs.pop("user", None) or new_user()
    return await stub.CreateUser(user_pb2.CreateUserRequest(user=user, **kwargs))


async def events(container: UsersContainer) -> list[tuple[str, bytes]]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.event_type, outbox.c.payload).order_by(outbox.c.seq)
        )
        return [(row.event_type, row.payload) for row in rows]
