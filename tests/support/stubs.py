"""The type of a UserService stub on an asyncio channel, for annotations.

mypy-protobuf declares `UserServiceAsyncStub` in the .pyi only (the stub built on a
`grpc.aio.Channel` is that type to the checker); at run time the class is `UserServiceStub`.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from user.v1.user_pb2_grpc import UserServiceAsyncStub as AsyncUserStub
else:
    from user.v1.user_pb2_grpc import UserServiceStub as AsyncUserStub

__all__ = ["AsyncUserStub"]
