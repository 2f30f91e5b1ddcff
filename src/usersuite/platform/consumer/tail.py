"""`usersuite events tail`: events from the stream, decoded to JSON lines."""

import asyncio
import json
import logging
from typing import Any, TextIO

from google.protobuf.json_format import MessageToDict
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from usersuite.platform.consumer.events import UndecodableEvent, decode_payload

log = logging.getLogger(__name__)
STREAM_POLL_SECONDS = 1.0


def event_line(msg: Msg) -> str:
    """A CloudEvents-shaped JSON object: type, id, time, subject (users/...), payload.

    The payload is the protobuf event in its canonical JSON mapping; it is null for a message
    that is not an event this code knows.
    """
    headers = msg.headers or {}
    event_type = headers.get("ce-type", msg.subject)
    payload: dict[str, Any] | None
    try:
        payload = MessageToDict(decode_payload(event_type, msg.data))
    except UndecodableEvent:
        payload = None
    line = {
        "type": event_type,
        "id": headers.get("ce-id", headers.get("Nats-Msg-Id")),
        "time": headers.get("ce-time"),
        "subject": headers.get("ce-subject"),
        "payload": payload,
    }
    return json.dumps(line)


async def _wait_for_stream(js: JetStreamContext, stream: str) -> None:
    """The bridge creates the stream; until it has, there is nothing to tail."""
    waiting_logged = False
    while True:
        try:
            await js.stream_info(stream)
            return
        except NotFoundError:
            if not waiting_logged:
                log.warning("stream %s does not exist yet; waiting for the bridge", stream)
                waiting_logged = True
            await asyncio.sleep(STREAM_POLL_SECONDS)


async def tail(
    nc: Client,
    *,
    stream: str,
    subject: str,
    from_start: bool,
    out: TextIO,
    limit: int | None = None,
) -> int:
    """Prints one JSON line per event until interrupted (or `limit` events); returns exit code.

    An ephemeral ordered consumer (in memory, removed by the server once we are gone) reads
    new events, or the whole stream with `from_start`; every line is flushed as it is printed.
    The caller owns `nc` (bootstrap connects it).
    """
    js = nc.jetstream()
    await _wait_for_stream(js, stream)
    policy = DeliverPolicy.ALL if from_start else DeliverPolicy.NEW
    sub = await js.subscribe(subject, stream=stream, ordered_consumer=True, deliver_policy=policy)
    printed = 0
    while limit is None or printed < limit:
        msg = await sub.next_msg(timeout=None)
        out.write(event_line(msg) + "\n")
        out.flush()
        printed += 1
    return 0
