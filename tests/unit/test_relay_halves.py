"""A batch published half by half, each half marked while the next one publishes: the order
of publishes and marks, with marks the test releases one at a time."""

import asyncio

import pytest

from tests.support.outbox_rows import outbox_row as row
from usersuite.platform.relay.halves import HalvesInFlight, halves
from usersuite.platform.service.outbox import BatchResult, Failure, OutboxRow


class FakePublisher:
    """Acknowledges every row but those it is told to fail; records what each call sent."""

    def __init__(self, failing: dict[int, bool] | None = None) -> None:
        self.failing = failing or {}  # seq -> whether the failure counts (a rejection)
        self.calls: list[list[int]] = []

    async def publish(self, rows: list[OutboxRow], result: BatchResult) -> None:
        self.calls.append([r.seq for r in rows])
        for r in rows:
            if r.seq in self.failing:
                result.failures.append(Failure(r.seq, "refused", counts=self.failing[r.seq]))
            else:
                result.acked.append(r.seq)


class GatedMarks:
    """Marks that finish when the test releases them, in the order they were asked for."""

    def __init__(self) -> None:
        self.asked: list[list[int]] = []
        self.done: list[list[int]] = []
        self.gates: list[asyncio.Event] = []

    async def mark(self, rows: list[OutboxRow], part: BatchResult) -> list[int]:
        self.asked.append([r.seq for r in rows])
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        self.done.append(sorted(part.acked))
        return [f.seq for f in part.failures if f.counts]

    async def release(self, index: int) -> None:
        for _ in range(100):  # the fakes make no I/O: a mark asked for is asked within a few turns
            if len(self.gates) > index:
                break
            await asyncio.sleep(0)
        assert len(self.gates) > index, f"mark {index} was never asked for: {self.asked}"
        self.gates[index].set()
        for _ in range(5):  # the mark, then whatever waited for it
            await asyncio.sleep(0)


async def settled() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_a_batch_splits_into_two_halves_the_first_one_row_longer() -> None:
    rows = [row(i, "u") for i in range(1, 6)]
    assert [[r.seq for r in half] for half in halves(rows)] == [[1, 2, 3], [4, 5]]
    assert [[r.seq for r in half] for half in halves(rows[:1])] == [[1]]
    assert halves([]) == []


async def test_a_half_is_marked_while_the_next_publishes_and_no_more_than_a_batch_is_unmarked() -> (
    None
):
    publisher, marks = FakePublisher(), GatedMarks()
    inflight = HalvesInFlight(publisher, marks.mark, asyncio.Lock())  # type: ignore[arg-type]
    result = BatchResult()

    async def two_batches() -> None:
        await inflight.relay([row(i, f"u{i}") for i in range(1, 9)], result)
        await inflight.relay([row(i, f"u{i}") for i in range(9, 17)], result)
        await inflight.finish()

    running = asyncio.ensure_future(two_batches())
    await settled()
    # The first half's mark waits; the second half went out meanwhile, and nothing more.
    assert publisher.calls == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert marks.asked == [[1, 2, 3, 4]]
    await marks.release(0)
    await settled()
    assert publisher.calls[2:] == [[9, 10, 11, 12]]
    assert marks.asked[1:] == [[5, 6, 7, 8]]
    await marks.release(1)
    await settled()
    assert publisher.calls[3:] == [[13, 14, 15, 16]]
    await marks.release(2)
    await marks.release(3)
    await running
    assert marks.done == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]
    assert result.acked == list(range(1, 17))


async def test_a_mark_waits_while_the_session_runs_another_statement() -> None:
    publisher, marks, session = FakePublisher(), GatedMarks(), asyncio.Lock()
    inflight = HalvesInFlight(publisher, marks.mark, session)  # type: ignore[arg-type]
    await session.acquire()  # the claim of the next batch, running beside the publish
    running = asyncio.ensure_future(
        inflight.relay([row(i, f"u{i}") for i in range(1, 5)], BatchResult())
    )
    await settled()
    assert publisher.calls == [[1, 2], [3, 4]]
    assert marks.asked == []
    session.release()
    await settled()
    assert marks.asked == [[1, 2]]
    await marks.release(0)
    await running
    await marks.release(1)
    await inflight.finish()
    assert not session.locked()


async def test_a_user_whose_event_was_refused_sends_nothing_in_the_next_half() -> None:
    # u1: rows 1 and 3 (one in each half); row 1 is refused.
    rows = [row(1, "u1"), row(2, "u2"), row(3, "u1"), row(4, "u3")]
    publisher, marks = FakePublisher(failing={1: True}), GatedMarks()
    inflight = HalvesInFlight(publisher, marks.mark, asyncio.Lock())  # type: ignore[arg-type]
    result = BatchResult()
    running = asyncio.ensure_future(inflight.relay(rows, result))
    await marks.release(0)
    await running
    await marks.release(1)
    await inflight.finish()
    assert publisher.calls == [[1, 2], [4]]
    assert result.acked == [2, 4]
    assert [failure.seq for failure in result.failures] == [1]
    assert inflight.parked == [1]


async def test_a_transient_failure_stops_the_batch_after_its_half_is_marked() -> None:
    rows = [row(i, f"u{i}") for i in range(1, 5)]
    publisher, marks = FakePublisher(failing={2: False}), GatedMarks()
    inflight = HalvesInFlight(publisher, marks.mark, asyncio.Lock())  # type: ignore[arg-type]
    result = BatchResult()
    await inflight.relay(rows, result)
    assert publisher.calls == [[1, 2]]  # the second half stays pending
    await marks.release(0)
    await inflight.finish()
    assert marks.done == [[1]]
    assert result.transient_failure


async def test_after_a_publish_error_nothing_is_left_running_on_the_session() -> None:
    class Exploding(FakePublisher):
        async def publish(self, rows: list[OutboxRow], result: BatchResult) -> None:
            if self.calls:
                raise RuntimeError("publisher broke")
            await super().publish(rows, result)

    marks = GatedMarks()
    inflight = HalvesInFlight(Exploding(), marks.mark, asyncio.Lock())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="publisher broke"):
        await inflight.relay([row(i, f"u{i}") for i in range(1, 5)], BatchResult())
    settling = asyncio.ensure_future(inflight.settle())
    await settled()
    assert not settling.done()  # it waits for the first half's mark
    await marks.release(0)
    await settling
    assert marks.done == [[1, 2]]


async def test_a_marks_statement_is_asked_for_before_the_next_half_publishes() -> None:
    """The publisher's sends hold the event loop without waiting (as the real one's do): a mark
    started only when they first wait would leave PostgreSQL idle through them."""
    order: list[str] = []

    class RecordingPublisher(FakePublisher):
        async def publish(self, rows: list[OutboxRow], result: BatchResult) -> None:
            order.append(f"publish {[r.seq for r in rows]}")
            await super().publish(rows, result)

    async def mark(rows: list[OutboxRow], part: BatchResult) -> list[int]:
        order.append(f"mark {[r.seq for r in rows]}")
        return []

    inflight = HalvesInFlight(RecordingPublisher(), mark, asyncio.Lock())  # type: ignore[arg-type]
    await inflight.relay([row(i, f"u{i}") for i in range(1, 5)], BatchResult())
    await inflight.finish()
    assert order == ["publish [1, 2]", "mark [1, 2]", "publish [3, 4]", "mark [3, 4]"]
