"""The order saga's transitions, rule by rule: replies, stale and duplicate replies, deadlines,
backoff, compensation, parking and cancelling."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.fakes import Counter
from usersuite.orders.domain.errors import OrderNotCancellable
from usersuite.orders.domain.messages import (
    CreditRefused,
    CreditReleased,
    CreditReserved,
    RefusalReason,
    ReleaseCredit,
    ReserveCredit,
)
from usersuite.orders.domain.order import LineItem, Order, OrderState, RejectionReason
from usersuite.orders.domain.retry import RetryPolicy
from usersuite.orders.domain.saga import (
    SagaEvent,
    SagaKind,
    SagaStep,
    Transition,
    cancel,
    on_deadline,
    on_reply,
    start,
)

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
POLICY = RetryPolicy(
    first_wait=timedelta(seconds=10),
    multiplier=2,
    max_wait=timedelta(seconds=30),
    reserve_attempts=3,
    release_attempts=2,
)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def placed() -> Order:
    return Order.place(
        "o1", user_id="ada", line_items=[LineItem("pen", 2, 250)], currency_code="EUR", now=T0
    )


def started() -> Transition:
    return start(placed(), saga_id="s1", command_id="c1", now=T0, policy=POLICY)


def reply_to(t: Transition, now: datetime, reply: object) -> Transition:
    return on_reply(t.saga, t.order, reply, now=now)  # type: ignore[arg-type]


def deadline(t: Transition, now: datetime, ids: Counter | None = None) -> Transition:
    return on_deadline(
        t.saga, t.order, now=now, policy=POLICY, new_command_id=ids or Counter("r{}")
    )


def timed_out(ids: Counter) -> Transition:
    """The CREATE saga after its last reserve attempt went unanswered: compensating."""
    t = started()
    for now in (at(10), at(30), at(60)):
        t = deadline(t, now, ids)
    return t


def approved() -> Transition:
    return reply_to(started(), at(1), CreditReserved("c1", "s1", "orders/o1", 500))


def test_start_sends_reserve_credit_for_the_order_total() -> None:
    t = started()
    assert t.commands == (ReserveCredit("c1", "s1", "orders/o1", "accounts/ada", 500, "EUR"),)
    assert (t.saga.kind, t.saga.step, t.saga.attempt) == (
        SagaKind.CREATE,
        SagaStep.RESERVE_CREDIT,
        1,
    )
    assert (t.saga.command_id, t.saga.deadline) == ("c1", at(10))
    assert t.order.state is OrderState.PENDING
    assert [e.event for e in t.saga.timeline] == [SagaEvent.SENT]


def test_credit_reserved_approves_the_order_and_ends_the_saga() -> None:
    t = approved()
    assert t.order.state is OrderState.APPROVED
    assert (t.order_change, t.commands, t.applied) == (OrderState.APPROVED, (), True)
    assert (t.saga.step, t.saga.command, t.saga.deadline) == (SagaStep.DONE, None, None)
    assert t.saga.timeline[-1].detail == "CreditReserved"


@pytest.mark.parametrize(
    ("reason", "rejection"),
    [
        (RefusalReason.CREDIT_LIMIT_EXCEEDED, RejectionReason.CREDIT_LIMIT_EXCEEDED),
        (RefusalReason.NO_ACCOUNT, RejectionReason.NO_ACCOUNT),
        (RefusalReason.ACCOUNT_CLOSED, RejectionReason.NO_ACCOUNT),
        (RefusalReason.CURRENCY_MISMATCH, RejectionReason.NO_ACCOUNT),
    ],
)
def test_credit_refused_rejects_with_the_mapped_reason(
    reason: RefusalReason, rejection: RejectionReason
) -> None:
    t = reply_to(started(), at(1), CreditRefused("c1", "s1", "orders/o1", reason))
    assert (t.order.state, t.order.rejection_reason) == (OrderState.REJECTED, rejection)
    assert (t.order_change, t.saga.step) == (OrderState.REJECTED, SagaStep.DONE)


@pytest.mark.parametrize(
    "reply",
    [
        CreditRefused("c1", "s1", "orders/o1", RefusalReason.RELEASED),
        CreditReserved("c0", "s1", "orders/o1", 500),  # stale command id
        CreditReserved("c1", "s0", "orders/o1", 500),  # another saga's
        CreditReleased("c1", "s1", "orders/o1"),  # not an answer to a reserve
    ],
)
def test_replies_that_do_not_answer_the_current_command_are_ignored(reply: object) -> None:
    before = started()
    t = reply_to(before, at(1), reply)
    assert (t.saga, t.order, t.commands, t.applied) == (before.saga, before.order, (), False)


def test_a_duplicate_reply_after_the_saga_ended_is_ignored() -> None:
    done = approved()
    again = reply_to(done, at(2), CreditReserved("c1", "s1", "orders/o1", 500))
    assert (again.saga, again.order, again.applied) == (done.saga, done.order, False)


def test_a_deadline_not_yet_reached_does_nothing() -> None:
    before = started()
    assert not deadline(before, at(9)).applied


def test_a_missed_deadline_resends_the_same_command_with_a_longer_wait() -> None:
    first = started()
    second = deadline(first, at(10))
    assert second.commands == first.commands
    assert (second.saga.attempt, second.saga.deadline) == (2, at(30))
    third = deadline(second, at(31))
    assert (third.saga.attempt, third.saga.deadline) == (3, at(61))
    assert [e.event for e in third.saga.timeline] == [
        SagaEvent.SENT,
        SagaEvent.RESENT,
        SagaEvent.RESENT,
    ]
    assert third.order.state is OrderState.PENDING


def test_after_the_last_attempt_the_saga_compensates_and_rejects_the_order() -> None:
    t = timed_out(Counter("r{}"))
    assert t.commands == (ReleaseCredit("r1", "s1", "orders/o1"),)
    assert (t.saga.step, t.saga.attempt, t.saga.deadline) == (SagaStep.RELEASE_CREDIT, 1, at(70))
    assert (t.order.state, t.order.rejection_reason) == (
        OrderState.REJECTED,
        RejectionReason.BILLING_TIMEOUT,
    )
    assert t.order_change is OrderState.REJECTED
    assert [(e.event, e.command_id) for e in t.saga.timeline[-2:]] == [
        (SagaEvent.TIMED_OUT, "c1"),
        (SagaEvent.SENT, "r1"),
    ]


def test_after_compensation_late_reserve_replies_and_released_refusals_are_ignored() -> None:
    t = timed_out(Counter("r{}"))
    for late in (
        CreditReserved("c1", "s1", "orders/o1", 500),
        CreditRefused("c1", "s1", "orders/o1", RefusalReason.RELEASED),
    ):
        assert not reply_to(t, at(61), late).applied


def test_credit_released_ends_the_compensation_without_touching_the_order() -> None:
    t = timed_out(Counter("r{}"))
    done = reply_to(t, at(62), CreditReleased("r1", "s1", "orders/o1"))
    assert (done.saga.step, done.order_change) == (SagaStep.DONE, None)
    assert done.order == t.order


def test_an_unanswered_release_is_resent_then_parked_and_a_late_answer_still_ends_it() -> None:
    ids = Counter("r{}")
    t = deadline(timed_out(ids), at(70), ids)
    assert t.commands == (ReleaseCredit("r1", "s1", "orders/o1"),)
    parked = deadline(t, at(90), ids)
    assert parked.saga.parked
    assert parked.commands == ()
    assert parked.saga.timeline[-1].event is SagaEvent.PARKED
    assert not parked.saga.due(at(10_000))
    assert parked.saga.overdue(at(10_000))
    assert not deadline(parked, at(10_000), ids).applied
    assert ids.issued == ["r1"]
    done = reply_to(parked, at(10_001), CreditReleased("r1", "s1", "orders/o1"))
    assert (done.saga.step, done.saga.parked) == (SagaStep.DONE, False)


def test_release_retries_forever_when_the_policy_never_parks() -> None:
    never = RetryPolicy(first_wait=timedelta(seconds=1), max_wait=timedelta(seconds=4))
    t = cancel(approved().order, saga_id="s2", command_id="r1", now=at(2), policy=never)
    for _ in range(50):
        assert t.saga.deadline is not None
        t = on_deadline(
            t.saga, t.order, now=t.saga.deadline, policy=never, new_command_id=Counter("x{}")
        )
        assert t.commands == (ReleaseCredit("r1", "s2", "orders/o1"),)
    assert t.saga.attempt == 51
    assert not t.saga.parked


def test_cancel_cancels_an_approved_order_at_once_and_releases_its_credit() -> None:
    t = cancel(approved().order, saga_id="s2", command_id="r1", now=at(2), policy=POLICY)
    assert (t.order.state, t.order_change) == (OrderState.CANCELLED, OrderState.CANCELLED)
    assert t.commands == (ReleaseCredit("r1", "s2", "orders/o1"),)
    assert (t.saga.kind, t.saga.step, t.saga.deadline) == (
        SagaKind.CANCEL,
        SagaStep.RELEASE_CREDIT,
        at(12),
    )
    done = reply_to(t, at(3), CreditReleased("r1", "s2", "orders/o1"))
    assert (done.saga.step, done.order.state, done.order_change) == (
        SagaStep.DONE,
        OrderState.CANCELLED,
        None,
    )


def test_only_an_approved_order_can_be_cancelled() -> None:
    with pytest.raises(OrderNotCancellable):
        cancel(placed(), saga_id="s2", command_id="r1", now=at(2), policy=POLICY)


def test_a_saga_refuses_another_order() -> None:
    other = Order.place(
        "o2", user_id="ada", line_items=[LineItem("pen", 1, 1)], currency_code="EUR", now=T0
    )
    with pytest.raises(ValueError, match="orders/o1"):
        on_reply(started().saga, other, CreditReleased("c1", "s1", "orders/o2"), now=at(1))
