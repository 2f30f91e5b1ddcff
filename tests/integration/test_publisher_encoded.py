"""The publisher's own path from encoded headers to JetStream, against a real nats-server."""

from datetime import UTC, datetime

import pytest
from nats.aio.client import Client
from nats.errors import ConnectionClosedError
from nats.js.errors import APIError

from tests.support.events import stream_messages
from tests.support.nats import NatsServer
from usersuite.platform.config import StreamSettings
from usersuite.platform.nats.jetstream import connect, ensure_stream
from usersuite.platform.nats.messages import event_headers, headers_for
from usersuite.platform.nats.pipeline_context import PipelineContext
from usersuite.platform.nats.publisher import WRONG_LAST_MSG_ID
from usersuite.platform.service.outbox import OutboxRow

TRACE = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


def row(seq: int, user: str = "users/1") -> OutboxRow:
    return OutboxRow(
        seq=seq, event_id=f"event-{seq}", event_type="user.v1.UserUpdated",
        aggregate_name=user, aggregate_version=seq, payload=b"payload-%d" % seq,
        trace_context=TRACE, principal="", attempts=0,
        occurred_time=datetime(2026, 12, 6, 5, 31, seq, tzinfo=UTC),
    )  # fmt: skip


async def publisher_client(nats_server: NatsServer) -> Client:
    client = await connect(nats_server.url, "test-publisher", first_attempts=5)
    await ensure_stream(client.jetstream(), StreamSettings())
    return client


async def test_encoded_events_are_stored_with_their_headers_and_deduplicated(
    nats_server: NatsServer, nc: Client
) -> None:
    client = await publisher_client(nats_server)
    try:
        js = PipelineContext(client, max_in_flight=1)
        events = [row(seq) for seq in range(1, 21)]
        acks = []
        for event in [*events, events[0]]:  # the last one again: a duplicate
            future = await js.publish_async(
                event.event_type, event.payload, headers=event_headers(event, "//usersuite")
            )
            assert len(js._publish_async_futures) <= 1  # max_in_flight holds
            acks.append(await future)
        assert [(a.stream, a.seq, bool(a.duplicate)) for a in acks] == [
            *(("USER_V1", seq, False) for seq in range(1, 21)),
            ("USER_V1", 1, True),
        ]
    finally:
        await client.close()
    stored = await stream_messages(nc)
    assert [(m.subject, m.data, m.headers) for m in stored] == [
        (e.event_type, e.payload, headers_for(e, "//usersuite")) for e in events
    ]


async def test_a_refused_guard_fails_its_future_with_the_error_code(
    nats_server: NatsServer,
) -> None:
    client = await publisher_client(nats_server)
    try:
        js = PipelineContext(client, max_in_flight=10)
        first, second = row(1), row(2)
        await (await js.publish_async(
            first.event_type, first.payload, headers=event_headers(first, "//usersuite")
        ))  # fmt: skip
        guarded = event_headers(second, "//usersuite").guarded("not-the-last-one")
        refused = await js.publish_async(second.event_type, second.payload, headers=guarded)
        with pytest.raises(APIError) as error:
            await refused
        assert error.value.err_code == WRONG_LAST_MSG_ID
    finally:
        await client.close()


async def test_a_publish_on_a_closed_connection_raises_and_holds_nothing(
    nats_server: NatsServer,
) -> None:
    client = await publisher_client(nats_server)
    js = PipelineContext(client, max_in_flight=1)
    event = row(1)
    await (await js.publish_async(
        event.event_type, event.payload, headers=event_headers(event, "//usersuite")
    ))  # fmt: skip
    await client.close()
    with pytest.raises(ConnectionClosedError):
        await js.publish_async(
            event.event_type, event.payload, headers=event_headers(event, "//usersuite")
        )
    assert js._publish_async_futures == {}


async def test_both_publish_paths_share_one_reply_subscription(nats_server: NatsServer) -> None:
    """A plain publish first (nats-py's own path), then encoded ones: the second path keeps the
    first one's replies and futures rather than subscribing again over them."""
    client = await publisher_client(nats_server)
    try:
        js = PipelineContext(client, max_in_flight=10)
        first, second = row(1), row(2)
        plain = await js.publish_async(
            first.event_type, first.payload, headers=headers_for(first, "//usersuite")
        )
        subscriptions = len(client._subs)
        encoded = await js.publish_async(
            second.event_type, second.payload, headers=event_headers(second, "//usersuite")
        )
        assert len(client._subs) == subscriptions
        assert [(await plain).seq, (await encoded).seq] == [1, 2]
    finally:
        await client.close()
