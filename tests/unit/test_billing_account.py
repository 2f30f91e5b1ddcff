"""Billing's Account: order-keyed reservations, idempotency, tombstones, limits, closing."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.billing_tables import BillingTables
from usersuite.billing.domain import reservations
from usersuite.billing.domain.account import Account, AccountState
from usersuite.billing.domain.errors import AccountClosed, CreditLimitBelowReserved, InvalidValue
from usersuite.billing.domain.messages import (
    CreditRefused,
    CreditReleased,
    CreditReserved,
    RefusalReason,
)
from usersuite.billing.domain.reservations import CreditOutcome, ReservationState

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)


def open_account(limit: int = 1000, currency: str = "EUR") -> Account:
    return Account.open("ada", currency_code=currency, credit_limit_minor=limit, now=T0)


class Billing(BillingTables):
    """Ada's account (if any) and her orders' reservations, with the saga's ids filled in."""

    def __init__(self, account: Account | None) -> None:
        super().__init__()
        if account is not None:
            self.account = account

    @property
    def account(self) -> Account | None:
        return self.accounts.get("ada")

    @account.setter
    def account(self, account: Account) -> None:
        self.accounts[account.user_id] = account

    @property
    def reserved(self) -> int:
        assert self.account is not None
        assert self.account.reserved_minor == self.active_sum("ada")
        return self.account.reserved_minor

    def reserve_for(
        self, order: str, amount: int, command_id: str = "c1", currency: str = "EUR"
    ) -> CreditOutcome:
        return self.reserve(
            "ada",
            order=order,
            amount_minor=amount,
            currency_code=currency,
            command_id=command_id,
            saga_id="s1",
            now=T1,
        )

    def release_for(self, order: str, command_id: str = "r1") -> CreditOutcome:
        return self.release(order=order, command_id=command_id, saga_id="s1", now=T1)


def billing(limit: int = 1000, currency: str = "EUR") -> Billing:
    return Billing(open_account(limit, currency))


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
    b = billing()
    outcome = b.reserve_for("orders/o1", 600)
    assert outcome.reply == CreditReserved("c1", "s1", "orders/o1", 600)
    assert b.reserved == 600
    assert b.account is not None
    assert b.account.version == 2
    assert b.reservations["orders/o1"].state is ReservationState.ACTIVE
    assert b.reservations["orders/o1"].user_id == "ada"


def test_reserve_up_to_exactly_the_limit_is_allowed() -> None:
    b = billing()
    b.reserve_for("orders/o1", 600)
    assert isinstance(b.reserve_for("orders/o2", 400, "c2").reply, CreditReserved)
    assert b.reserved == 1000


def test_reserve_above_the_limit_is_refused_and_holds_nothing() -> None:
    b = billing()
    held = b.reserve_for("orders/o1", 600).account
    outcome = b.reserve_for("orders/o2", 401, "c2")
    assert outcome.reply == CreditRefused(
        "c2", "s1", "orders/o2", RefusalReason.CREDIT_LIMIT_EXCEEDED
    )
    assert outcome.account is held  # unchanged, nothing to store
    assert b.reservations["orders/o2"].state is ReservationState.REFUSED


def test_reserve_in_another_currency_is_refused() -> None:
    outcome = billing().reserve_for("orders/o1", 1, currency="USD")
    assert outcome.reply == CreditRefused("c1", "s1", "orders/o1", RefusalReason.CURRENCY_MISMATCH)


def test_reserve_on_a_closed_account_is_refused() -> None:
    outcome = Billing(open_account().close(T1)).reserve_for("orders/o1", 1)
    assert outcome.reply == CreditRefused("c1", "s1", "orders/o1", RefusalReason.ACCOUNT_CLOSED)


def test_reserve_without_an_account_is_refused_and_stays_refused() -> None:
    b = Billing(None)
    refused = CreditRefused("c1", "s1", "orders/o1", RefusalReason.NO_ACCOUNT)
    assert b.reserve_for("orders/o1", 1).reply == refused
    b.account = open_account()  # the user's account opens later
    assert b.reserve_for("orders/o1", 1).reply == refused
    assert b.reserved == 0


def test_reserve_of_a_negative_amount_is_a_programming_error() -> None:
    with pytest.raises(InvalidValue):
        billing().reserve_for("orders/o1", -1)


def test_a_repeated_reserve_gets_the_same_answer_with_its_own_command_id() -> None:
    b = billing()
    b.reserve_for("orders/o1", 600)
    held = b.account
    again = b.reserve_for("orders/o1", 600, "c9")
    assert again.reply == CreditReserved("c9", "s1", "orders/o1", 600)
    assert again.account is held
    assert again.reservation is None


def test_a_repeated_refusal_stays_refused_even_after_the_limit_rose() -> None:
    b = billing(limit=10)
    b.reserve_for("orders/o1", 600)
    assert b.account is not None
    b.account = b.account.with_credit_limit(5000, T1)
    again = b.reserve_for("orders/o1", 600)
    assert again.reply == CreditRefused(
        "c1", "s1", "orders/o1", RefusalReason.CREDIT_LIMIT_EXCEEDED
    )
    assert b.reserved == 0


def test_release_frees_the_amount_and_a_later_reserve_is_refused_as_released() -> None:
    b = billing()
    b.reserve_for("orders/o1", 600)
    assert b.release_for("orders/o1").reply == CreditReleased("r1", "s1", "orders/o1")
    assert b.reserved == 0
    late = b.reserve_for("orders/o1", 600, "c1")
    assert late.reply == CreditRefused("c1", "s1", "orders/o1", RefusalReason.RELEASED)
    assert b.reserved == 0


def test_release_of_an_unknown_reservation_leaves_a_tombstone() -> None:
    b = billing()
    before = b.account
    outcome = b.release_for("orders/o1")
    assert outcome.reply == CreditReleased("r1", "s1", "orders/o1")
    assert outcome.account is None  # a release names no account; the tombstone has none
    assert b.account is before
    assert b.reservations["orders/o1"].tombstone
    late = b.reserve_for("orders/o1", 600)
    assert late.reply == CreditRefused("c1", "s1", "orders/o1", RefusalReason.RELEASED)


def test_release_needs_no_account_for_a_tombstone() -> None:
    outcome = Billing(None).release_for("orders/o1")
    assert outcome.reply == CreditReleased("r1", "s1", "orders/o1")
    assert outcome.reservation is not None
    assert outcome.reservation.tombstone


def test_a_repeated_release_answers_released_and_changes_nothing() -> None:
    b = billing()
    b.reserve_for("orders/o1", 600)
    b.release_for("orders/o1")
    held = b.account
    again = b.release_for("orders/o1", "r2")
    assert again.reply == CreditReleased("r2", "s1", "orders/o1")
    assert again.account is held
    assert again.reservation is None


def test_release_of_a_refused_reservation_holds_nothing_back() -> None:
    b = billing(limit=10)
    b.reserve_for("orders/o1", 600)
    b.release_for("orders/o1")
    assert b.reserved == 0
    assert b.reservations["orders/o1"].state is ReservationState.RELEASED


def test_release_works_on_a_closed_account() -> None:
    b = billing()
    b.reserve_for("orders/o1", 600)
    assert b.account is not None
    b.account = b.account.close(T1)
    b.release_for("orders/o1")
    assert b.reserved == 0


def test_release_of_an_active_reservation_needs_its_account() -> None:
    b = billing()
    b.reserve_for("orders/o1", 600)
    with pytest.raises(ValueError, match="ada"):
        reservations.release(
            Account.open("bob", currency_code="EUR", credit_limit_minor=1, now=T0),
            b.reservations["orders/o1"],
            order="orders/o1",
            command_id="r1",
            saga_id="s1",
            now=T1,
        )


def test_a_reservation_answers_only_for_its_own_order() -> None:
    b = billing()
    b.reserve_for("orders/o1", 600)
    with pytest.raises(ValueError, match="orders/o2"):
        reservations.release(
            b.account,
            b.reservations["orders/o1"],
            order="orders/o2",
            command_id="r1",
            saga_id="s1",
            now=T1,
        )


def test_the_limit_can_go_down_to_what_is_reserved_but_not_below() -> None:
    b = billing()
    b.reserve_for("orders/o1", 600)
    account = b.account
    assert account is not None
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


def test_close_is_idempotent_and_keeps_what_is_reserved() -> None:
    b = billing()
    b.reserve_for("orders/o1", 600)
    assert b.account is not None
    closed = b.account.close(T1)
    assert closed.state is AccountState.CLOSED
    assert closed.reserved_minor == 600
    assert closed.close(T1) is closed


def test_every_version_has_its_own_etag() -> None:
    account = open_account()
    assert account.etag != account.with_credit_limit(5, T1).etag
