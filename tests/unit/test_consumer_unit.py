"""The consumer's decisions (handle, skip, retry, dead-letter) with a fake NATS and SQLite."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tests.support.waiting import eventually, holds
from user.v1 import events_pb2
from usersuite.platform.consumer import (
    DLQ_CONSUMER,
    DLQ_DELIVERIES,
    DLQ_REASON,
    DLQ_STREAM_SEQ,
    MAX_REASON_LENGTH,
    Consumer,
    ConsumerSettings,
    Outcome,
    create_inbox,
    inbox,
)
from usersuite.platform.consumer.durable import durable_config
from usersuite.platform.consumer.events import (
    Event,
    UndecodableEvent,
    decode_payload,
    event_class,
)

EVENT_ID = "0b8a2a52-6f1e-4d0c-9a43-5d2b0f0e1c11"


@dataclass
class FakeMsg:
    """A JetStream message that records how it was settled."""

    data: bytes
    headers: dict[str, str]
    subject: str = "user.v1.UserCreated"
    num_delivered: int = 1
    stream_seq: int = 7
    settled: list[tuple[str, float | None]] = field(default_factory=list)

    @property
    def metadata(self) -> Msg.Metadata:
        return Msg.Metadata(
            sequence=Msg.Metadata.SequencePair(consumer=1, stream=self.stream_seq),
            num_pending=0,
            num_delivered=self.num_delivered,
            timestamp=datetime.now(UTC),
            stream="USER_V1",
            consumer="unit",
        )

    async def ack(self) -> None:
        self.settled.append(("ack", None))

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append(("nak", delay))

    async def term(self) -> None:
        self.settled.append(("term", None))

    async def in_progress(self) -> None:
        self.settled.append(("in_progress", None))


@dataclass
class FakeJetStream:
    published: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False

    async def publish(self, subject: str, payload: bytes, **options: Any) -> None:
        if self.failing:
            raise NatsTimeoutError
        self.published.append({"subject": subject, "payload": payload, **options})


@dataclass
class FakeClient:
    js: FakeJetStream = field(default_factory=FakeJetStream)

    def jetstream(self) -> FakeJetStream:
        return self.js


@dataclass
class Handler:
    failures: int = 0
    calls: list[Event] = field(default_factory=list)

    async def __call__(self, event: Event, conn: AsyncConnection) -> None:
        self.calls.append(event)
        if len(self.calls) <= self.failures:
            raise RuntimeError("downstream said no")


def created_message(num_delivered: int = 1, **headers: Any) -> FakeMsg:
    event = events_pb2.UserCreated()
    event.metadata.event_id = EVENT_ID
    event.metadata.aggregate_name = "users/u1"
    event.metadata.aggregate_version = 1
    event.user.name = "users/u1"
    default_headers = {
        "Nats-Msg-Id": EVENT_ID,
        "ce-id": EVENT_ID,
        "ce-type": "user.v1.UserCreated",
        "ce-time": "2024-05-06T07:08:09.5Z",
        "ce-subject": "users/u1",
        "content-type": "application/protobuf",
    }
    return FakeMsg(
        event.SerializeToString(), {**default_headers, **headers}, num_delivered=num_delivered
    )


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    built = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'downstream.db'}")
    await create_inbox(built)
    yield built
    await built.dispose()


SETTINGS = ConsumerSettings(durable="unit", max_deliver=3, backoff_seconds=(1.0, 5.0))


def consumer_for(
    engine: AsyncEngine,
    handler: Callable[[Event, AsyncConnection], Awaitable[None]],
    client: FakeClient,
    settings: ConsumerSettings = SETTINGS,
) -> Consumer:
    # The fakes stand in for the nats-py client and message: they have the parts Consumer uses.
    return Consumer(cast(Client, client), engine, handler, settings)


def wired(
    engine: AsyncEngine, failures: int = 0, client: FakeClient | None = None
) -> tuple[Handler, FakeClient, Consumer]:
    """A consumer on the unit settings with its handler (failing `failures` times) and NATS."""
    handler, nats = Handler(failures), client or FakeClient()
    return handler, nats, consumer_for(engine, handler, nats)


async def process(consumer: Consumer, msg: FakeMsg) -> Outcome:
    return await consumer.process(cast(Msg, msg))


async def inbox_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(inbox))).scalar_one())


def test_nak_delays_follow_the_schedule_and_repeat_its_last_value() -> None:
    assert [SETTINGS.nak_delay(n) for n in (1, 2, 3, 4)] == [1.0, 5.0, 5.0, 5.0]


def test_the_durable_consumer_redelivers_without_limit_and_leaves_ack_wait_alone() -> None:
    config = durable_config(SETTINGS)
    assert config.max_deliver == -1  # max_deliver is counted by the consumer
    assert config.ack_wait == 30.0
    assert config.backoff is None
    assert config.durable_name == "unit"
    assert config.filter_subject == "user.v1.>"


@pytest.mark.parametrize(
    "bad",
    [{"max_deliver": 0}, {"backoff_seconds": ()}, {"backoff_seconds": (1.0, 0.0)},
     {"batch_size": 0}, {"ack_wait_seconds": 0.0}],
)  # fmt: skip
def test_settings_refuse_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|needs"):
        ConsumerSettings(durable="x", **bad)


def test_every_event_of_the_contract_decodes_and_nothing_else() -> None:
    for name in ("UserCreated", "UserUpdated", "UserDeleted"):
        assert event_class(f"user.v1.{name}") is getattr(events_pb2, name)
    # Messages that are not events, and names nobody defined, are no events.
    for name in ("user.v1.EventMetadata", "user.v1.User", "user.v1.Nothing", "nothing"):
        assert event_class(name) is None
    deleted = decode_payload(
        "user.v1.UserDeleted", events_pb2.UserDeleted(name="users/a").SerializeToString()
    )
    assert isinstance(deleted, events_pb2.UserDeleted)
    with pytest.raises(UndecodableEvent, match="unknown event type"):
        decode_payload("user.v1.EventMetadata", b"")
    with pytest.raises(UndecodableEvent, match="not a valid"):
        decode_payload("user.v1.UserCreated", b"\xff\xff")


async def test_a_new_event_is_handled_once_and_acknowledged(engine: AsyncEngine) -> None:
    handler, _, consumer = wired(engine)
    first, again = created_message(), created_message(num_delivered=2)

    assert await process(consumer, first) is Outcome.HANDLED
    assert await process(consumer, again) is Outcome.DUPLICATE

    assert first.settled == [("ack", None)]
    assert again.settled == [("ack", None)]
    [event] = handler.calls
    assert event.event_id == EVENT_ID
    assert event.type == event.subject == "user.v1.UserCreated"
    assert event.time == datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)
    assert (event.aggregate_name, event.aggregate_version) == ("users/u1", 1)
    assert isinstance(event.message, events_pb2.UserCreated)
    assert event.headers["ce-subject"] == "users/u1"
    assert await inbox_rows(engine) == 1


async def test_a_failure_rolls_back_and_naks_with_the_backoff_delay(engine: AsyncEngine) -> None:
    _, client, consumer = wired(engine, failures=2)
    attempts = [created_message(num_delivered=n) for n in (1, 2, 3)]

    outcomes = [await process(consumer, msg) for msg in attempts]

    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.HANDLED]
    assert [msg.settled for msg in attempts] == [[("nak", 1.0)], [("nak", 5.0)], [("ack", None)]]
    assert await inbox_rows(engine) == 1
    assert client.js.published == []


async def test_the_last_failed_delivery_is_dead_lettered_then_terminated(
    engine: AsyncEngine,
) -> None:
    _, client, consumer = wired(engine, failures=99)
    last = created_message(num_delivered=3)

    assert await process(consumer, last) is Outcome.DEAD_LETTERED

    assert last.settled == [("term", None)]
    [dead] = client.js.published
    assert dead["subject"] == "dlq.user.v1.UserCreated"
    assert dead["stream"] == "USER_V1_DLQ"
    assert dead["payload"] == last.data
    headers = dead["headers"]
    assert headers[DLQ_REASON] == "RuntimeError: downstream said no"
    assert headers[DLQ_CONSUMER] == "unit"
    assert headers[DLQ_DELIVERIES] == "3"
    assert headers[DLQ_STREAM_SEQ] == "7"
    assert headers["ce-id"] == EVENT_ID
    assert headers["Nats-Msg-Id"] == "unit:USER_V1:7"
    assert await inbox_rows(engine) == 0


async def test_the_spare_delivery_is_dead_lettered_without_calling_the_handler(
    engine: AsyncEngine,
) -> None:
    handler, client, consumer = wired(engine)
    spare = created_message(num_delivered=4)

    assert await process(consumer, spare) is Outcome.DEAD_LETTERED

    assert handler.calls == []
    assert spare.settled == [("term", None)]
    reason = client.js.published[0]["headers"][DLQ_REASON]
    assert "delivered 4 times" in reason
    assert await inbox_rows(engine) == 0


async def test_the_spare_delivery_of_an_event_already_handled_is_just_acknowledged(
    engine: AsyncEngine,
) -> None:
    _, client, consumer = wired(engine)
    await process(consumer, created_message(num_delivered=3))
    spare = created_message(num_delivered=4)  # the ack of delivery 3 was lost

    assert await process(consumer, spare) is Outcome.DUPLICATE
    assert spare.settled == [("ack", None)]
    assert client.js.published == []


async def test_when_the_dead_letter_cannot_be_published_the_message_is_naked(
    engine: AsyncEngine,
) -> None:
    _, _, consumer = wired(engine, failures=99, client=FakeClient(FakeJetStream(failing=True)))
    last = created_message(num_delivered=3)

    assert await process(consumer, last) is Outcome.RETRY
    assert last.settled == [("nak", 5.0)]


async def test_an_unknown_event_type_is_dead_lettered_at_once(engine: AsyncEngine) -> None:
    handler, client, consumer = wired(engine)
    headers: dict[str, Any] = {"ce-type": "user.v1.UserSuspended"}
    future = created_message(**headers)

    assert await process(consumer, future) is Outcome.DEAD_LETTERED
    assert handler.calls == []
    assert future.settled == [("term", None)]
    assert "unknown event type" in client.js.published[0]["headers"][DLQ_REASON]


async def test_a_long_handler_keeps_its_message_with_in_progress_acks(
    engine: AsyncEngine,
) -> None:
    msg = created_message()

    async def slow(event: Event, conn: AsyncConnection) -> None:
        # Works on past the ack wait until the consumer has told JetStream it still is.
        await eventually(
            holds(lambda: ("in_progress", None) in msg.settled), within=10, what="in progress"
        )

    settings = ConsumerSettings(durable="unit", ack_wait_seconds=0.05)
    consumer = consumer_for(engine, slow, FakeClient(), settings)

    assert await process(consumer, msg) is Outcome.HANDLED
    assert msg.settled[-1] == ("ack", None)
    assert ("in_progress", None) in msg.settled[:-1]


async def test_a_long_reason_is_one_bounded_header_line(engine: AsyncEngine) -> None:
    client = FakeClient()

    async def verbose(event: Event, conn: AsyncConnection) -> None:
        raise ValueError("line one\r\nline two " + "x" * 5000)

    consumer = consumer_for(engine, verbose, client)
    await process(consumer, created_message(num_delivered=3))

    reason = client.js.published[0]["headers"][DLQ_REASON]
    assert reason.startswith("ValueError: line one line two xxx")
    assert reason.endswith("...")
    assert len(reason) == MAX_REASON_LENGTH
    assert "\r" not in reason
    assert "\n" not in reason
