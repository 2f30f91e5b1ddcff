"""JetStream connection and stream provisioning (create, update, or refuse on conflict)."""

import asyncio
import logging
import socket
import struct
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

from usersuite.platform.config import StreamSettings, redact_url

log = logging.getLogger(__name__)


class NatsUnreachable(ConnectionError):
    """No server at the URL answered within the attempts a caller allowed; says why."""


class StreamConflict(Exception):
    """An existing stream cannot be made to match the configuration without data loss."""


async def connect(url: str, name: str, *, first_attempts: int = 0) -> Client:
    """A connection that outlives outages: unlimited reconnects, logged state changes.

    nats-py retries a first connection forever, silently, when reconnects are allowed; so the
    first contact is a plain attempt, retried here with capped backoff and a log line,
    `first_attempts` times (0: until it works).
    """
    delay, attempt = 0.5, 0
    while True:
        attempt += 1
        try:
            return await _connect(url, name, allow_reconnect=False)
        except (OSError, nats.errors.Error, TimeoutError) as exc:
            if first_attempts and attempt >= first_attempts:
                raise NatsUnreachable(str(exc) or type(exc).__name__) from exc
            shown = redact_url(url)
            log.warning("cannot reach NATS at %s (%s); retrying in %.1fs", shown, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def _connect(url: str, name: str, *, allow_reconnect: bool) -> Client:
    client = Client()

    async def disconnected() -> None:
        if not (client.is_closed or client.is_draining):  # a deliberate close is no news
            log.warning("NATS disconnected; reconnecting")

    async def reconnected() -> None:
        log.info("NATS reconnected")

    async def error(exc: Exception) -> None:
        if client.is_connected or client.is_reconnecting:  # connect() reports its own failures
            log.warning("NATS error: %s", exc)

    await client.connect(
        # A cluster is given as a comma-separated list of its servers' URLs.
        [server.strip() for server in url.split(",")],
        name=name,
        allow_reconnect=allow_reconnect,
        # nats-py also loops over a first connection until this many attempts fail.
        max_reconnect_attempts=-1 if allow_reconnect else 1,
        reconnect_time_wait=1,
        connect_timeout=5,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
    )
    if not allow_reconnect:
        # Once connected, outages are survived by reconnecting without limit.
        client.options["allow_reconnect"] = True
        client.options["max_reconnect_attempts"] = -1
    return client


def sever(client: Client) -> None:
    """Drops the client's connection at once with everything it has not delivered yet.

    A relay hands its partitions over when publishes stop being acknowledged, but what it sent
    until then may only be on its way: in nats-py's pending buffer (flushed after a reconnect)
    or in the socket (retransmitted when a partition heals). Arriving after the next holder
    relayed the same rows, and after the stream's duplicate window, those events would be
    stored again, out of their user's order. So the buffer is emptied and the socket reset
    (SO_LINGER 0 discards the kernel's unsent bytes); nats-py then reconnects on a fresh one.
    """
    client._pending = []
    client._pending_data_size = 0
    writer = getattr(client._transport, "_io_writer", None)  # nats-py's TCP transport
    if not isinstance(writer, asyncio.StreamWriter):
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def stream_config(settings: StreamSettings) -> StreamConfig:
    return StreamConfig(
        name=settings.name,
        subjects=list(settings.subjects),
        storage=StorageType.FILE if settings.storage == "file" else StorageType.MEMORY,
        num_replicas=settings.replicas,
        max_age=settings.max_age_seconds,
        max_bytes=settings.max_bytes,
        max_msg_size=settings.max_msg_size,
        duplicate_window=settings.duplicate_window_seconds,
    )


# JetStream's API answers none of these while a cluster elects its meta leader or a stream's
# leader (at start-up, after a node is lost): worth waiting out, unlike a refusal.
NOT_READY = (nats.errors.TimeoutError, nats.errors.NoRespondersError, ServiceUnavailableError)


async def ensure_stream(js: JetStreamContext, settings: StreamSettings) -> None:
    """Creates the stream, or updates its limits; refuses when it conflicts. Waits, with a log
    line and capped backoff, while JetStream is not ready to answer."""
    delay = 0.5
    while True:
        try:
            await _ensure_stream(js, settings)
            return
        except NOT_READY as exc:
            log.warning(
                "JetStream does not answer for stream %s (%s): a cluster electing its leader, "
                "or a server without JetStream; retrying in %.1fs", settings.name, exc, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        except APIError as exc:  # e.g. subjects overlapping another stream, replicas > servers
            raise StreamConflict(
                f"JetStream refused stream {settings.name}: {exc.description or exc}"
            ) from None


async def _ensure_stream(js: JetStreamContext, settings: StreamSettings) -> None:
    wanted = stream_config(settings)
    try:
        info = await js.stream_info(settings.name)
    except NotFoundError:
        await js.add_stream(wanted)
        log.info("created stream %s for %s", settings.name, ", ".join(settings.subjects))
        return
    existing: Any = info.config
    problems = []
    if sorted(existing.subjects or []) != sorted(settings.subjects):
        problems.append(f"subjects {existing.subjects} (configured {list(settings.subjects)})")
    if existing.storage != wanted.storage:
        problems.append(f"storage {existing.storage} (configured {settings.storage})")
    if problems:
        raise StreamConflict(
            f"stream {settings.name} exists with other {' and '.join(problems)}; "
            "refusing to change it: fix the configuration or migrate the stream by hand"
        )
    await js.update_stream(wanted)
    log.info("stream %s exists; limits updated", settings.name)
