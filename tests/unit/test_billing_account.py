"""Billing's Account: order-keyed reservations, idempotency, tombstones, limits, closing."""

from datetime import UTC, datetime, timedelta

import pytest

from usersuite.billing.domain.account import (
    Account,
    AccountState,
    CreditOutcome,
    ReservationState,
    refused_without_account,
)
from usersuite.billing.domain.errors import AccountClosed, CreditLimitBelowReserved, InvalidValue
from usersuite.billing.domain.messages import (
    CreditRefused,
    CreditReleased,
    CreditReserved,
    RefusalReason,
)

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)


def open_account(limit: int = 1000, currency: str = "EUR") -> Account:
    return Account.open("ada", currency_code=currency, credit_limit_minor=limit, now=T0)


def reserve(
    account: Account, order: str, amount: int, command_id: str = "c1", currency: str = "EUR"
) -> CreditOutcome:
    return account.reserve(
        order=order,
        amount_minor=amount,
        currency_code=currency,
        command_id=command_id,
        saga_id="s1",
        now=T1,
    )


def release(account: Account, order: str, command_id: str = "r1") -> CreditOutcome:
    return account.release(order=order, command_id=command_id, saga_id="s1", now=T1)


def test_open_account_has_nothing_reserved() -> None:
    account = open_account()
    assert (account.name, account.user, account.reserved_minor) == ("accounts/ada", "users/ada", 0)
    assert account.state is AccountState.OPEN
    assert account.version == 1


@pytest.mark.parametrize("currency", ["eur", "EURO", "", "E1R"])
def test_open_refuses_a_currency_that_is_not_iso_4217_shaped(currency: str) -> None:
    with pytest.raises(InvalidValue):
        open_account(currency=currency)


def test_open_refuses_a_negative_limit() -> None:
    with pytest.raises(InvalidValue):
        open_account(limit=-1)


def test_reserve_within_the_limit_holds_the_amount() -> None:
    outcome = reserve(open_account(), "orders/o1", 600)
    assert outcome.reply == CreditReserved("c1", "s1", "orders/o1", 600)
    assert outcome.account.reserved_minor == 600
    assert outcome.account.version == 2
    assert outcome.reservation is not None
    assert outcome.reservation.state is ReservationState.ACTIVE


def test_reserve_up_to_exactly_the_limit_is_allowed() -> None:
    first = reserve(open_account(), "orders/o1", 600)
    second = reserve(first.account, "orders/o2", 400, "c2")
    assert isinstance(second.reply, CreditReserved)
    assert second.account.reserved_minor == 1000


def test_reserve_above_the_limit_is_refused_and_holds_nothing() -> None:
    first = reserve(open_account(), "orders/o1", 600)
    second = reserve(first.account, "orders/o2", 401, "c2")
    assert second.reply == CreditRefused(
        "c2", "s1", "orders/o2", RefusalReason.CREDIT_LIMIT_EXCEEDED
    )
    assert second.account.reserved_minor == 600
    assert second.account.version == first.account.version


def test_reserve_in_another_currency_is_refused() -> None:
    outcome = reserve(open_account(), "orders/o1", 1, currency="USD")
    assert outcome.reply == CreditRefused("c1", "s1", "orders/o1", RefusalReason.CURRENCY_MISMATCH)


def test_reserve_on_a_closed_account_is_refused() -> None:
    outcome = reserve(open_account().close(T1), "orders/o1", 1)
    assert outcome.reply == CreditRefused("c1", "s1", "orders/o1", RefusalReason.ACCOUNT_CLOSED)


def test_reserve_of_a_negative_amount_is_a_programming_error() -> None:
    with pytest.raises(InvalidValue):
        reserve(open_account(), "orders/o1", -1)


def test_a_repeated_reserve_gets_the_same_answer_with_its_own_command_id() -> None:
    first = reserve(open_account(), "orders/o1", 600)
    again = reserve(first.account, "orders/o1", 600, "c9")
    assert again.reply == CreditReserved("c9", "s1", "orders/o1", 600)
    assert again.account == first.account
    assert again.reservation is None


def test_a_repeated_refusal_stays_refused_even_after_the_limit_rose() -> None:
    refused = reserve(open_account(limit=10), "orders/o1", 600)
    raised = refused.account.with_credit_limit(5000, T1)
    again = reserve(raised, "orders/o1", 600)
    assert again.reply == CreditRefused(
        "c1", "s1", "orders/o1", RefusalReason.CREDIT_LIMIT_EXCEEDED
    )
    assert again.account.reserved_minor == 0


def test_release_frees_the_amount_and_a_later_reserve_is_refused_as_released() -> None:
    reserved = reserve(open_account(), "orders/o1", 600)
    released = release(reserved.account, "orders/o1")
    assert released.reply == CreditReleased("r1", "s1", "orders/o1")
    assert released.account.reserved_minor == 0
    late = reserve(released.account, "orders/o1", 600, "c1")
    assert late.reply == CreditRefused("c1", "s1", "orders/o1", RefusalReason.RELEASED)
    assert late.account.reserved_minor == 0


def test_release_of_an_unknown_reservation_leaves_a_tombstone() -> None:
    outcome = release(open_account(), "orders/o1")
    assert outcome.reply == CreditReleased("r1", "s1", "orders/o1")
    assert outcome.reservation is not None
    assert outcome.reservation.tombstone
    assert outcome.account.version == 1  # nothing a reader sees changed
    late = reserve(outcome.account, "orders/o1", 600)
    assert late.reply == CreditRefused("c1", "s1", "orders/o1", RefusalReason.RELEASED)


def test_a_repeated_release_answers_released_and_changes_nothing() -> None:
    released = release(reserve(open_account(), "orders/o1", 600).account, "orders/o1")
    again = release(released.account, "orders/o1", "r2")
    assert again.reply == CreditReleased("r2", "s1", "orders/o1")
    assert again.account == released.account
    assert again.reservation is None


def test_release_of_a_refused_reservation_holds_nothing_back() -> None:
    refused = reserve(open_account(limit=10), "orders/o1", 600)
    released = release(refused.account, "orders/o1")
    assert released.account.reserved_minor == 0
    assert released.account.reservations["orders/o1"].state is ReservationState.RELEASED


def test_release_works_on_a_closed_account() -> None:
    reserved = reserve(open_account(), "orders/o1", 600)
    released = release(reserved.account.close(T1), "orders/o1")
    assert released.account.reserved_minor == 0


def test_the_limit_can_go_down_to_what_is_reserved_but_not_below() -> None:
    account = reserve(open_account(), "orders/o1", 600).account
    assert account.with_credit_limit(600, T1).credit_limit_minor == 600
    with pytest.raises(CreditLimitBelowReserved) as raised:
        account.with_credit_limit(599, T1)
    assert (raised.value.credit_limit_minor, raised.value.reserved_minor) == (599, 600)


def test_an_unchanged_limit_is_no_new_version() -> None:
    account = open_account()
    assert account.with_credit_limit(1000, T1) is account


def test_a_closed_account_keeps_its_limit() -> None:
    with pytest.raises(AccountClosed):
        open_account().close(T1).with_credit_limit(5, T1)


def test_close_is_idempotent_and_keeps_reservations() -> None:
    account = reserve(open_account(), "orders/o1", 600).account
    closed = account.close(T1)
    assert closed.state is AccountState.CLOSED
    assert closed.reserved_minor == 600
    assert closed.close(T1) is closed


def test_every_version_has_its_own_etag() -> None:
    account = open_account()
    assert account.etag != account.with_credit_limit(5, T1).etag


def test_no_account_refusal() -> None:
    assert refused_without_account(order="orders/o1", command_id="c1", saga_id="s1") == (
        CreditRefused("c1", "s1", "orders/o1", RefusalReason.NO_ACCOUNT)
    )
