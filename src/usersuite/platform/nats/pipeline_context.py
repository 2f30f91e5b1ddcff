"""A JetStream context for the relay's publishes: headers already encoded as wire bytes, a
cheaper path to nats-py's pending buffer, acknowledgements read as they arrive, and futures that
learn of rejections."""

import asyncio
import json
import re
from collections.abc import Callable
from functools import partial
from itertools import count
from typing import Any

from nats.aio.client import NO_RESPONDERS_STATUS, Client, _validate_subject
from nats.aio.msg import Msg
from nats.errors import (
    ConnectionClosedError,
    ConnectionDrainingError,
    MaxPayloadError,
    OutboundBufferLimitError,
)
from nats.js import JetStreamContext
from nats.js.api import Header, PubAck
from nats.js.errors import APIError, NoStreamResponseError, TooManyStalledMsgsError

from usersuite.platform.nats.messages import EventHeaders


class PipelineContext(JetStreamContext):
    """A JetStream context whose `publish_async` takes headers already encoded, and whose
    futures also learn of rejections.

    With `EventHeaders`, a publish goes from its bytes to nats-py's pending buffer with the
    checks `Client.publish` makes, but without re-encoding a dict, validating our own reply
    subject, drawing a random token or a task-free `wait_for` per message: the relay's time per
    event is mostly this path. Any other publish takes nats-py's own.

    nats-py 2.16's reply handler calls `APIError.from_error`, which raises rather than returns,
    so a rejection escapes to the error callback and its future only ever times out: a message
    JetStream refuses would look like NATS being down and never be parked.

    Acknowledgements are read in nats-py's read loop as they arrive (`Replies`), not through a
    subscription's queue and the task that awaits a callback for each message: with a few
    hundred in flight, that hand-over was a fifth of the relay's time per event.
    """

    def __init__(self, nc: Client, max_in_flight: int) -> None:
        super().__init__(nc, publish_async_max_pending=max_in_flight)
        # This path bounds what is in flight by counting, not by nats-py's semaphore, which
        # costs two coroutines per message; nats-py's own path keeps its semaphore.
        self._max_in_flight = max_in_flight
        self._room = asyncio.Event()
        self._tokens = count()
        self._reply_prefix = b""
        self._valid_subjects: set[str] = set()

    async def publish_async(  # noqa: PLR0917 (JetStreamContext.publish_async's signature)
        self,
        subject: str,
        payload: bytes = b"",
        wait_stall: float | None = None,
        stream: str | None = None,
        headers: dict[str, Any] | EventHeaders | None = None,
        msg_ttl: float | None = None,
    ) -> "asyncio.Future[PubAck]":
        if not isinstance(headers, EventHeaders) or stream is not None or msg_ttl is not None:
            plain = dict(headers) if isinstance(headers, EventHeaders) else headers
            return await super().publish_async(subject, payload, wait_stall, stream, plain, msg_ttl)
        nc = self._nc
        self._check(nc, subject, len(payload))
        if not self._reply_prefix:
            if self._async_reply_prefix is None:  # nats-py's own path may have made it
                await self._init_async_reply()
            assert self._async_reply_prefix is not None
            self._reply_prefix = bytes(self._async_reply_prefix)
        while len(self._publish_async_futures) >= self._max_in_flight:
            self._room.clear()
            try:
                await asyncio.wait_for(self._room.wait(), timeout=wait_stall)
            except TimeoutError:
                raise TooManyStalledMsgsError from None
        token = f"{next(self._tokens):x}"
        future: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
        future.add_done_callback(partial(self._settled, token))
        self._publish_async_futures[token] = future
        self._publish_async_completed_event.clear()
        hdr = headers.encoded
        command = b"HPUB %b %b%b %d %d\r\n%b%b\r\n" % (
            subject.encode(), self._reply_prefix, token.encode(),
            len(hdr), len(hdr) + len(payload), hdr, payload,
        )  # fmt: skip
        # Client._send_command and the flusher kick of Client._send_publish, without their
        # two coroutines per message.
        nc.stats["out_msgs"] += 1
        nc.stats["out_bytes"] += len(payload)
        nc._pending.append(command)
        nc._pending_data_size += len(command)
        if 0 < nc._max_pending_size < nc._pending_data_size:
            await nc._flush_pending(force_flush=True)
        if nc._flush_queue is not None and nc._flush_queue.empty():
            await nc._flush_pending()
        return future

    def _check(self, nc: Client, subject: str, payload_size: int) -> None:
        """What `Client.publish` refuses, checked before a future or a permit is taken."""
        if subject not in self._valid_subjects:
            _validate_subject(subject)
            self._valid_subjects.add(subject)
        if nc.is_closed:
            raise ConnectionClosedError
        if nc.is_draining_pubs:
            raise ConnectionDrainingError
        if not nc.is_connected and (
            nc._max_pending_size <= 0 or payload_size + nc._pending_data_size > nc._max_pending_size
        ):
            raise OutboundBufferLimitError
        if payload_size > nc._max_payload:
            raise MaxPayloadError

    async def _init_async_reply(self) -> None:
        """nats-py's reply subscription, its messages handed to `_reply` one by one."""
        self._publish_async_futures = {}
        prefix = self._nc._inbox_prefix[:]
        prefix.extend(b".")
        prefix.extend(self._nc._nuid.next())
        prefix.extend(b".")
        self._async_reply_prefix = prefix
        await self._nc.subscribe(f"{prefix.decode()}*", future=Replies(self._reply))

    def _settled(self, token: str, _: "asyncio.Future[PubAck]") -> None:
        futures = self._publish_async_futures
        futures.pop(token, None)
        if not futures:
            self._publish_async_completed_event.set()
        if len(futures) < self._max_in_flight:
            self._room.set()

    def _reply(self, msg: Msg) -> None:
        """Settles the future of the publish `msg` answers. Runs in nats-py's read loop, so it
        never raises: whatever reading the answer raises is the future's error."""
        # The reply subject ends with the token the future is filed under.
        future = self._publish_async_futures.get(msg.subject.rsplit(".", 1)[1])
        if future is None or future.done():
            return
        try:
            future.set_result(read_ack(msg))
        except Exception as exc:
            future.set_exception(exc)


def read_ack(msg: Msg) -> PubAck:
    """JetStream's answer to a publish; raises what it refuses with (its APIError class)."""
    if msg.headers and msg.headers.get(Header.STATUS) == NO_RESPONDERS_STATUS:
        raise NoStreamResponseError
    plain = PLAIN_ACK.fullmatch(msg.data)
    if plain is not None:
        stream, seq, duplicate = plain.groups()
        return PubAck(stream=stream.decode(), seq=int(seq), duplicate=True if duplicate else None)
    answer = json.loads(msg.data)
    error = answer.get("error")
    if error is not None:
        APIError.from_error(error)  # raises the error's class (503: unavailable, ...)
    return pub_ack(answer)


class Replies(asyncio.Future[Msg]):
    """A subscription's messages, each handed to `handle` in nats-py's read loop.

    nats-py gives every message of a subscription made with `future=` to that future's
    `set_result`, without a queue or a task (its old-style requests wait on one such
    subscription); this future is never done and takes every message.
    """

    def __init__(self, handle: Callable[[Msg], None]) -> None:
        super().__init__()
        self._handle = handle

    def cancelled(self) -> bool:
        return False

    def set_result(self, result: Msg, /) -> None:
        self._handle(result)


# A plain publish's acknowledgement as nats-server writes it, read without a JSON parser; any
# other answer (an error, a domain, a batch's or a counter's fields) goes through json.
PLAIN_ACK = re.compile(rb'\{"stream":"([^"\\]+)","seq":(\d+)(,"duplicate": ?true)?\}')


# What JetStream answers to a plain publish; nats-py's `PubAck.from_response` walks the
# dataclass's fields for every acknowledgement (8% of a relay's CPU when every ack took this
# path). `read_ack` reads the common answers with PLAIN_ACK first; json, then `pub_ack`, reads
# the rest (a domain's, or one written differently).
PLAIN_ACK_KEYS = frozenset({"stream", "seq", "domain", "duplicate"})


def pub_ack(answer: dict[str, Any]) -> PubAck:
    """The acknowledgement `answer` as nats-py's PubAck, built directly when it holds only what
    a plain publish's acknowledgement holds (anything else goes through nats-py)."""
    if answer.keys() <= PLAIN_ACK_KEYS:
        return PubAck(
            stream=answer["stream"],
            seq=answer["seq"],
            domain=answer.get("domain"),
            duplicate=answer.get("duplicate"),
        )
    return PubAck.from_response(answer)


def pipeline_context(nc: Client, max_in_flight: int) -> PipelineContext:
    return PipelineContext(nc, max_in_flight)
