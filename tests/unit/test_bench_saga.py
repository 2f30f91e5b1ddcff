"""The saga rows' pure parts: matching outcome events to awaited orders, percentiles, targets."""

import asyncio
from dataclasses import dataclass

import pytest

from bench import plans, report, saga_client
from bench.report import Row
from order.v1 import events_pb2, order_pb2


@dataclass
class FakeMsg:
    """What Outcomes reads of a JetStream message: its body."""

    data: bytes


def approved(name: str) -> FakeMsg:
    return FakeMsg(events_pb2.OrderApproved(order=order_pb2.Order(name=name)).SerializeToString())


def rejected(name: str) -> FakeMsg:
    return FakeMsg(events_pb2.OrderRejected(order=order_pb2.Order(name=name)).SerializeToString())


def test_an_approval_settles_the_awaited_order_only() -> None:
    async def scenario() -> None:
        outcomes = saga_client.Outcomes()
        mine = outcomes.expect("orders/o1")
        other = outcomes.expect("orders/o2")
        await outcomes.approved(approved("orders/o1"))  # type: ignore[arg-type]
        await outcomes.approved(approved("orders/unknown"))  # type: ignore[arg-type]
        assert mine.done()
        assert mine.result() > 0
        assert not other.done()
        assert set(outcomes.waiting) == {"orders/o2"}

    asyncio.run(scenario())


def test_a_rejection_fails_the_awaited_order_and_is_counted() -> None:
    async def scenario() -> None:
        outcomes = saga_client.Outcomes()
        mine = outcomes.expect("orders/o1")
        await outcomes.refused(rejected("orders/o1"))  # type: ignore[arg-type]
        with pytest.raises(RuntimeError):
            mine.result()
        assert outcomes.rejected == 1

    asyncio.run(scenario())


def test_percentiles_need_two_samples() -> None:
    assert saga_client.cuts([5.0]) == (None, None)
    p50, p99 = saga_client.cuts([float(i) for i in range(1, 101)])
    assert p50 == pytest.approx(50.5)
    assert p99 is not None
    assert p99 > 98


def test_the_saga_rows_are_judged_against_the_issue_targets() -> None:
    rows = report.judge(
        [
            Row("saga", plans.SAGA_THROUGHPUT, "orders/s", 310.0),
            Row("saga", plans.SAGA_LATENCY, "orders/s", 100.0, 40.0, 120.0),
            Row("saga", plans.SAGA_SLOW, "orders/s", 20.0, 30.0, 60.0),
        ],
        plans.PLANS,
    )
    assert [row.met for row in rows] == [True, False, None]
