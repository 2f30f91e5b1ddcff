"""Reading what landed in JetStream, and producing events through the real handlers."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError, ServiceUnavailableError

from tests.support.waiting import eventually
from user.v1 import events_pb2
from usersuite.users.service import commands
from usersuite.users.service.handlers import UserHandlers

STREAM = "USER_V1"
CONCURRENT_WRITERS = 8
T = TypeVar("T")


async def stream_count(nc: Client, stream: str = STREAM) -> int:
    """How many messages the stream holds. Every caller waits after a relay provisioned the
    stream, so a missing stream or an unreachable server is an error, not "none yet"."""
    return int((await nc.jetstream().stream_info(stream)).state.messages)


async def stream_has(nc: Client, count: int, stream: str = STREAM) -> bool:
    return await stream_count(nc, stream) == count


@dataclass(frozen=True)
class Stored:
    """A message as the stream stores it; every message the relay publishes has headers."""

    subject: str
    seq: int
    data: bytes
    headers: dict[str, str]


async def stream_messages(nc: Client, stream: str = STREAM) -> list[Stored]:
    """Every message stored in the stream, in stream order (deleted ones left out)."""
    js = nc.jetstream()
    info = await _from_a_leader(lambda: js.stream_info(stream), f"the state of {stream}")
    first, last = info.state.first_seq, info.state.last_seq
    if info.state.messages == 0:
        return []
    stored = []
    for seq in range(first, last + 1):
        raw = await _from_a_leader(partial(_get_msg, js, stream, seq), f"message {seq}")
        if raw is not None:
            stored.append(Stored(str(raw.subject), seq, raw.data or b"", dict(raw.headers or {})))
    return stored


async def _get_msg(js: JetStreamContext, stream: str, seq: int) -> Any:
    """The message at `seq`, or None if it was deleted (a test that loses messages on purpose)."""
    try:
        return await js.get_msg(stream, seq)
    except NotFoundError:
        return None


async def _from_a_leader(request: Callable[[], Awaitable[T]], what: str) -> T:
    """A JetStream API answer. A cluster that lost a node answers 503 while it elects a stream
    or meta leader: the read waits for the election, within the usual deadline."""
    got: list[T] = []

    async def answered() -> bool:
        try:
            got.append(await request())
        except ServiceUnavailableError:
            return False
        return True

    await eventually(answered, what=f"{what} from a leader")
    return got[0]


def decode(msg: Stored) -> Any:
    """The event message (UserCreated, ...) that `msg` carries, by its ce-type header."""
    message_type = getattr(events_pb2, msg.headers["ce-type"].rsplit(".", 1)[1])
    return message_type.FromString(msg.data)


def event_key(msg: Stored) -> tuple[str, int]:
    """(aggregate_name, aggregate_version) from the message's protobuf payload."""
    metadata = decode(msg).metadata
    return str(metadata.aggregate_name), int(metadata.aggregate_version)


async def make_history(handlers: UserHandlers, users: int, updates: int) -> list[str]:
    """Creates `users` users and updates each `updates` times; returns their ids."""
    ids = []
    for i in range(users):
        user = await handlers.create_user(
            commands.CreateUser(display_name=f"User {i}", email=f"user{i}@example.com")
        )
        ids.append(user.id)
    for round_ in range(updates):
        for user_id in ids:
            await handlers.update_user(
                commands.UpdateUser(user_id, {"display_name": f"Name {round_}"})
            )
    return ids


async def write_history(
    handlers: UserHandlers, users: int, events_per_user: int, tag: str = "user"
) -> list[str]:
    """Creates `users` users concurrently, each then updated until it has `events_per_user`
    events; one user's changes one after another."""
    # No more writers than the engine's pool holds, so none waits out the pool's timeout on a
    # busy machine.
    writers = asyncio.Semaphore(CONCURRENT_WRITERS)

    async def one(i: int) -> str:
        async with writers:
            user = await handlers.create_user(
                commands.CreateUser(display_name=f"User {i}", email=f"{tag}{i}@example.com")
            )
            for n in range(events_per_user - 1):
                await handlers.update_user(commands.UpdateUser(user.id, {"display_name": f"N {n}"}))
            return user.id

    return list(await asyncio.gather(*(one(i) for i in range(users))))
