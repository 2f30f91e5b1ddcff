"""The ceiling of one Python process: a bare grpc.aio servicer answering a constant User.

Run as `python -m bench.ceiling`; prints `ceiling ready on 127.0.0.1:PORT` and serves until SIGTERM.
"""

import asyncio
import signal
import sys

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from user.v1 import user_pb2, user_pb2_grpc

CONSTANT_USER = user_pb2.User(
    name="users/ada",
    display_name="Ada Lovelace",
    email="ada@example.com",
    create_time=Timestamp(seconds=1_700_000_000),
    update_time=Timestamp(seconds=1_700_000_000),
    etag='W/"1"',
)


class CeilingServicer(user_pb2_grpc.UserServiceServicer):
    async def GetUser(  # noqa: N802 - the generated method name
        self, request: user_pb2.GetUserRequest, context: grpc.aio.ServicerContext
    ) -> user_pb2.User:
        return CONSTANT_USER


async def serve_until_stopped(name: str, servicer: user_pb2_grpc.UserServiceServicer) -> None:
    """Serves `servicer` on a free loopback port, prints `NAME ready on ADDRESS` (the harness
    waits for that line) and serves until SIGTERM or SIGINT."""
    server = grpc.aio.server()
    user_pb2_grpc.add_UserServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    print(f"{name} ready on 127.0.0.1:{port}", flush=True)
    await stopping.wait()
    await server.stop(1)


async def main() -> None:
    await serve_until_stopped("ceiling", CeilingServicer())


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
