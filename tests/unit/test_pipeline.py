"""The pipelined publisher's ordering rules, against a fake JetStream that acks when told to."""

import asyncio
from typing import Any

import pytest
from nats.js.api import PubAck
from nats.js.errors import APIError, ServiceUnavailableError

from tests.support.outbox_rows import outbox_row as row
from usersuite.platform.nats.publisher import Publisher
from usersuite.platform.service.outbox import BatchResult, OutboxRow


class FakeJetStream:
    """Acknowledges on the next loop turns; fails the events it is told to fail, or never acks.

    Like JetStream, it stores an event guarded by Nats-Expected-Last-Msg-Id only right after
    the event it names, and refuses it otherwise.
    """

    def __init__(
        self, fail: dict[str, BaseException] | None = None, silent: frozenset[str] = frozenset()
    ):
        self.fail = fail or {}
        self.silent = silent
        self.sent: list[str] = []
        self.in_flight: dict[str, str] = {}  # event id -> user
        self.max_in_flight = 0
        self.overlaps: list[str] = []
        self.stored: list[str] = []
        self.guards: dict[str, str] = {}

    async def publish_async(self, subject: str, payload: bytes, headers: dict[str, Any]) -> Any:
        event_id, user = headers["ce-id"], headers["ce-subject"]
        if user in self.in_flight.values():
            self.overlaps.append(event_id)
        self.in_flight[event_id] = user
        self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
        self.sent.append(event_id)
        if "Nats-Expected-Last-Msg-Id" in headers:
            self.guards[event_id] = headers["Nats-Expected-Last-Msg-Id"]
        future: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
        if event_id not in self.silent:
            asyncio.get_running_loop().call_soon(self._settle, future, event_id)
        future.add_done_callback(lambda _: self.in_flight.pop(event_id, None))
        return future

    def _settle(self, future: "asyncio.Future[PubAck]", event_id: str) -> None:
        guard = self.guards.pop(event_id, None)
        if event_id in self.fail:
            future.set_exception(self.fail[event_id])
        elif guard is not None and self.stored[-1:] != [guard]:
            future.set_exception(APIError(code=400, err_code=10070, description="wrong last"))
        else:
            self.stored.append(event_id)
            future.set_result(PubAck(stream="S", seq=len(self.sent), duplicate=event_id == "e1"))


class Recorder:
    """The publish observer (the relay's metrics in production)."""

    def __init__(self) -> None:
        self.acks: list[tuple[str, bool]] = []
        self.failures: list[str] = []

    def published(self, event_type: str, seconds: float, duplicate: bool) -> None:
        self.acks.append((event_type, duplicate))

    def failed(self, kind: str) -> None:
        self.failures.append(kind)


async def publish(
    js: FakeJetStream, rows: list[OutboxRow], ack_wait: float = 5.0
) -> tuple[BatchResult, Recorder]:
    recorder, result = Recorder(), BatchResult()
    await Publisher(js, "//test", ack_wait, recorder).publish(rows, result)  # type: ignore[arg-type]
    return result, recorder


async def test_many_users_are_in_flight_together_but_one_user_never_twice() -> None:
    rows = [row(i, f"u{i % 10}") for i in range(1, 101)]
    js = FakeJetStream()
    result, recorder = await publish(js, rows)
    assert sorted(result.acked) == list(range(1, 101))
    assert js.max_in_flight == 10
    assert js.overlaps == []
    assert recorder.acks.count(("user.v1.UserUpdated", True)) == 1
    assert recorder.acks.count(("user.v1.UserUpdated", False)) == 99
    for user in range(10):
        mine = [r.seq for r in rows if r.aggregate_name == f"u{user}"]
        assert [s for s in result.acked if s in mine] == mine


async def test_a_failure_mid_pipeline_sends_nothing_more_of_that_user() -> None:
    rows = [row(i, "hot" if i % 2 else "other") for i in range(1, 21)]
    js = FakeJetStream(fail={"e7": ServiceUnavailableError()})
    result, recorder = await publish(js, rows)
    assert [s for s in result.acked if s % 2] == [1, 3, 5]
    assert [s for s in result.acked if not s % 2] == list(range(2, 21, 2))
    assert [s for s in js.sent if int(s[1:]) % 2] == ["e1", "e3", "e5", "e7"]
    [failure] = result.failures
    assert (failure.seq, failure.counts) == (7, False)
    assert result.transient_failure
    assert recorder.failures == ["transient"]


async def test_a_rejected_event_counts_towards_parking() -> None:
    rejected = APIError(code=400, err_code=10054, description="message size exceeds maximum")
    js = FakeJetStream(fail={"e2": rejected})
    result, recorder = await publish(js, [row(1, "a"), row(2, "a"), row(3, "a"), row(4, "b")])
    assert sorted(result.acked) == [1, 4]
    [failure] = result.failures
    assert (failure.seq, failure.counts) == (2, True)
    assert "10054" in failure.error
    assert not result.transient_failure
    assert recorder.failures == ["rejected"]


async def test_a_missing_acknowledgement_times_out_as_transient() -> None:
    js = FakeJetStream(silent=frozenset({"e1"}))
    result, _ = await publish(js, [row(1, "a"), row(2, "a"), row(3, "b")], ack_wait=0.05)
    assert result.acked == [3]
    [failure] = result.failures
    assert (failure.seq, failure.counts) == (1, False)
    assert js.sent.count("e2") == 0


async def test_one_hot_user_is_pipelined_and_stored_in_order() -> None:
    rows = [row(i, "hot") for i in range(1, 201)]
    js = FakeJetStream()
    result, recorder = await publish(js, rows)
    assert result.acked == list(range(1, 201))
    assert js.stored == [f"e{i}" for i in range(1, 201)]
    assert js.max_in_flight > 1
    assert result.failures == []
    assert recorder.failures == []


async def test_a_failure_in_a_hot_window_stores_nothing_of_the_user_behind_it() -> None:
    rows = [row(i, "hot") for i in range(1, 41)]
    js = FakeJetStream(fail={"e20": ServiceUnavailableError()})
    result, _ = await publish(js, rows)
    assert result.acked == list(range(1, 20))
    assert js.stored == [f"e{i}" for i in range(1, 20)]
    [failure] = result.failures
    assert (failure.seq, failure.counts) == (20, False)


async def test_a_refused_guard_is_no_failure_and_the_event_goes_out_again() -> None:
    rows = [row(i, "hot") for i in range(1, 11)]
    js = FakeJetStream()
    publisher = Publisher(js, "//test", 5.0, Recorder())  # type: ignore[arg-type]
    original = js._settle

    def interleaved(future: "asyncio.Future[PubAck]", event_id: str) -> None:
        if event_id == "e5":  # the second of a window, guarded by e4
            js.stored.append("another publisher's event")
        original(future, event_id)

    js._settle = interleaved  # type: ignore[method-assign]
    result = BatchResult()
    await publisher.publish(rows, result)
    assert result.acked == list(range(1, 11))
    assert result.failures == []
    mine = [event for event in js.stored if event.startswith("e")]
    assert mine == [f"e{i}" for i in range(1, 11)]
    assert js.sent.count("e5") == 2


async def test_an_ack_in_the_loop_turn_its_timeout_fires_in_counts_as_acked() -> None:
    """The ack lands after the timeout woke the publisher but before its count-down callback
    ran: it is read as the ack it is, with a time, not lost."""

    class AckTwoTurnsLater(FakeJetStream):
        async def publish_async(self, subject: str, payload: bytes, headers: Any) -> Any:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[PubAck] = loop.create_future()
            ack = PubAck(stream="S", seq=1)
            loop.call_soon(lambda: loop.call_soon(future.set_result, ack))
            return future

    recorder, result = Recorder(), BatchResult()
    publisher = Publisher(AckTwoTurnsLater(), "//test", 0.0, recorder)  # type: ignore[arg-type]
    await publisher.publish([row(1, "a")], result)
    assert (result.acked, result.failures) == ([1], [])
    assert recorder.acks == [("user.v1.UserUpdated", False)]


async def test_a_users_next_event_does_not_wait_for_another_users_acknowledgement() -> None:
    """One acknowledgement held back does not hold the other users' events behind it: each
    user's next event goes out once its own previous one is stored."""

    class HoldsOne(FakeJetStream):
        def __init__(self, held: str) -> None:
            super().__init__(silent=frozenset({held}))
            self.held: asyncio.Future[PubAck] | None = None
            self.all_but_held_stored = asyncio.Event()

        async def publish_async(self, subject: str, payload: bytes, headers: Any) -> Any:
            future = await super().publish_async(subject, payload, headers)
            if headers["ce-id"] in self.silent:
                self.held = future
            return future

        def _settle(self, future: "asyncio.Future[PubAck]", event_id: str) -> None:
            super()._settle(future, event_id)
            if len(self.stored) == 10:
                self.all_but_held_stored.set()

    # u1 has one event, u2 and u3 five each; u1's acknowledgement waits for the test.
    rows = [row(1, "u1")] + [row(i, f"u{2 + i % 2}") for i in range(2, 12)]
    js = HoldsOne("e1")
    publishing = asyncio.ensure_future(publish(js, rows))
    await js.all_but_held_stored.wait()
    assert js.stored == [f"e{i}" for i in range(2, 12)]
    assert not publishing.done()
    assert js.held is not None
    js.stored.append("e1")
    js.held.set_result(PubAck(stream="S", seq=11))
    result, recorder = await publishing
    assert sorted(result.acked) == list(range(1, 12))
    assert js.overlaps == []
    assert result.failures == []
    assert recorder.failures == []


async def test_an_answer_no_one_judges_is_raised_once_what_is_in_flight_has_settled() -> None:
    """An error that is neither transient nor a rejection goes up, but only after the events
    still in flight settled (here: timed out), so nothing is left pending behind the call."""
    js = FakeJetStream(fail={"e1": ValueError("garbled answer")}, silent=frozenset({"e2"}))
    rows = [row(1, "u1"), row(2, "u2"), row(3, "u1")]
    with pytest.raises(ValueError, match="garbled answer"):
        await publish(js, rows, ack_wait=0.05)
    assert js.in_flight == {}  # e2 timed out before the error went up
    assert js.sent == ["e1", "e2"]


async def test_a_cancelled_publish_is_a_transient_failure_not_a_hang() -> None:
    class CancelsOne(FakeJetStream):
        def _settle(self, future: "asyncio.Future[PubAck]", event_id: str) -> None:
            if event_id == "e1":
                future.cancel()
            else:
                super()._settle(future, event_id)

    js = CancelsOne()
    result, recorder = await asyncio.wait_for(
        publish(js, [row(1, "u1"), row(2, "u2"), row(3, "u1"), row(4, "u2")]), 10
    )
    assert sorted(result.acked) == [2, 4]
    [failure] = result.failures
    assert (failure.seq, failure.counts) == (1, False)
    assert js.sent == ["e1", "e2", "e4"]
    assert recorder.failures == ["transient"]
