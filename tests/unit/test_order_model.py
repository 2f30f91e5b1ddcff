"""The Order aggregate: line items and totals, currency, and the moves between its states."""

from datetime import UTC, datetime, timedelta

import pytest

from usersuite.orders.domain.errors import InvalidValue, OrderNotCancellable, OrderNotPending
from usersuite.orders.domain.order import (
    MINOR_UNITS_MAX,
    LineItem,
    Order,
    OrderState,
    RejectionReason,
)
from usersuite.orders.domain.retry import RetryPolicy

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)


def place(*items: LineItem, currency: str = "EUR") -> Order:
    return Order.place("o1", user_id="ada", line_items=items, currency_code=currency, now=T0)


def test_a_placed_order_is_pending_with_the_sum_of_its_lines() -> None:
    order = place(LineItem("pen", 3, 150), LineItem("ink", 1, 0))
    assert order.state is OrderState.PENDING
    assert order.total_minor == 450
    assert (order.name, order.user, order.account) == ("orders/o1", "users/ada", "accounts/ada")
    assert order.rejection_reason is None


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ((), "line_items"),
        ((LineItem(" ", 1, 1),), "line_items[0].sku"),
        ((LineItem("pen", 1, 1), LineItem("ink", 0, 1)), "line_items[1].quantity"),
        ((LineItem("pen", 2**31, 1),), "line_items[0].quantity"),
        ((LineItem("pen", 1, -1),), "line_items[0].unit_price_minor"),
        ((LineItem("pen", 2, MINOR_UNITS_MAX),), "line_items"),
    ],
)
def test_bad_line_items_name_their_field(items: tuple[LineItem, ...], field: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        place(*items)
    assert raised.value.field == field


def test_a_bad_currency_names_its_field() -> None:
    with pytest.raises(InvalidValue) as raised:
        place(LineItem("pen", 1, 1), currency="euro")
    assert raised.value.field == "currency_code"


def test_approve_and_reject_only_a_pending_order() -> None:
    order = place(LineItem("pen", 1, 1))
    approved = order.approve(T1)
    assert (approved.state, approved.version, approved.update_time) == (
        OrderState.APPROVED,
        2,
        T1,
    )
    rejected = order.reject(RejectionReason.NO_ACCOUNT, T1)
    assert rejected.rejection_reason is RejectionReason.NO_ACCOUNT
    with pytest.raises(OrderNotPending):
        approved.reject(RejectionReason.BILLING_TIMEOUT, T1)
    with pytest.raises(OrderNotPending):
        rejected.approve(T1)


def test_only_an_approved_order_can_be_cancelled() -> None:
    order = place(LineItem("pen", 1, 1))
    assert order.approve(T1).cancel(T1).state is OrderState.CANCELLED
    for not_approved in (order, order.reject(RejectionReason.NO_ACCOUNT, T1)):
        with pytest.raises(OrderNotCancellable):
            not_approved.cancel(T1)


def test_every_version_has_its_own_etag() -> None:
    order = place(LineItem("pen", 1, 1))
    assert order.etag != order.approve(T1).etag


def test_retry_waits_grow_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(
        first_wait=timedelta(seconds=5), multiplier=2, max_wait=timedelta(seconds=30)
    )
    waits = [policy.wait(attempt).total_seconds() for attempt in (1, 2, 3, 4, 5, 10_000)]
    assert waits == [5, 10, 20, 30, 30, 30]


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"first_wait": timedelta(0)}, "waits"),
        ({"max_wait": timedelta(seconds=1)}, "waits"),
        ({"multiplier": 0}, "multiplier"),
        ({"reserve_attempts": 0}, "attempts"),
        ({"release_attempts": 0}, "attempts"),
    ],
)
def test_retry_policy_refuses_nonsense(values: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        RetryPolicy(**values)  # type: ignore[arg-type]
