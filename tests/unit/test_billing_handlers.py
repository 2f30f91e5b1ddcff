"""Billing's use cases over in-memory ports: accounts, credit once per order, UpdateAccount."""

import logging
from datetime import UTC, datetime
from itertools import count

import pytest

from tests.support.billing_fakes import BillingStore
from usersuite.billing.domain.account import AccountState
from usersuite.billing.domain.errors import (
    AccountClosed,
    AccountNotFound,
    CreditLimitBelowReserved,
    EtagMismatch,
    ValidationFailed,
)
from usersuite.billing.domain.events import (
    AccountOpened,
    CreditLimitChanged,
    ReplySent,
)
from usersuite.billing.domain.messages import (
    CreditRefused,
    CreditReleased,
    CreditReserved,
    RefusalReason,
)
from usersuite.billing.service import commands
from usersuite.billing.service.credit import CreditHandlers
from usersuite.billing.service.handlers import AccountHandlers

NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
LIMIT = 10_000


def event_ids() -> "count[int]":
    return count(1)


@pytest.fixture
def store() -> BillingStore:
    return BillingStore()


@pytest.fixture
def credit() -> CreditHandlers:
    ids = event_ids()
    return CreditHandlers(
        default_credit_limit_minor=LIMIT,
        default_currency_code="EUR",
        clock=lambda: NOW,
        event_id_factory=lambda: f"event-{next(ids)}",
    )


@pytest.fixture
def accounts(store: BillingStore) -> AccountHandlers:
    ids = event_ids()
    return AccountHandlers(store.uow, clock=lambda: NOW, event_id_factory=lambda: f"a-{next(ids)}")


def reserve(
    order: str, amount: int, command_id: str = "c1", user: str | None = "ada"
) -> commands.ReserveCredit:
    return commands.ReserveCredit(command_id, "saga-1", order, user, amount, "EUR")


async def opened(store: BillingStore, credit: CreditHandlers, user_id: str = "ada") -> None:
    await credit.open_account(store.uow(), commands.OpenAccount(user_id))


async def test_user_created_opens_an_account_once_with_the_default_limit(
    store: BillingStore, credit: CreditHandlers
) -> None:
    first = await credit.open_account(store.uow(), commands.OpenAccount("ada", "users-api"))
    again = await credit.open_account(store.uow(), commands.OpenAccount("ada"))

    assert first is not None
    assert again is None
    account = store.accounts["ada"]
    assert (account.credit_limit_minor, account.currency_code) == (LIMIT, "EUR")
    [event] = store.outbox
    assert isinstance(event, AccountOpened)
    assert event.metadata.aggregate_name == "accounts/ada"
    assert event.metadata.principal == "users-api"


async def test_user_deleted_closes_the_account_once(
    store: BillingStore, credit: CreditHandlers
) -> None:
    await opened(store, credit)
    await credit.close_account(store.uow(), commands.CloseAccount("ada"))
    await credit.close_account(store.uow(), commands.CloseAccount("ada"))
    await credit.close_account(store.uow(), commands.CloseAccount("nobody"))

    assert store.accounts["ada"].state is AccountState.CLOSED
    assert [type(m).__name__ for m in store.outbox] == ["AccountOpened", "AccountClosed"]


async def test_a_reservation_answers_with_the_commands_ids_on_the_orders_aggregate(
    store: BillingStore, credit: CreditHandlers
) -> None:
    await opened(store, credit)
    await credit.reserve_credit(store.uow(), reserve("orders/o1", 2500))

    assert store.accounts["ada"].reserved_minor == 2500
    reply = store.outbox[-1]
    assert isinstance(reply, ReplySent)
    assert reply.reply == CreditReserved("c1", "saga-1", "orders/o1", 2500)
    assert reply.metadata.aggregate_name == "orders/o1"
    assert reply.metadata.event_id not in {m.metadata.event_id for m in store.outbox[:-1]}


async def test_a_repeated_command_has_one_effect_and_the_same_answer(
    store: BillingStore, credit: CreditHandlers
) -> None:
    await opened(store, credit)
    await credit.reserve_credit(store.uow(), reserve("orders/o1", 2500))
    await credit.reserve_credit(store.uow(), reserve("orders/o1", 2500))

    assert store.accounts["ada"].reserved_minor == 2500
    replies = [m for m in store.outbox if isinstance(m, ReplySent)]
    assert [r.reply for r in replies] == [CreditReserved("c1", "saga-1", "orders/o1", 2500)] * 2
    assert replies[0].metadata.event_id != replies[1].metadata.event_id


@pytest.mark.parametrize(
    ("amount", "user", "currency", "reason"),
    [
        (LIMIT + 1, "ada", "EUR", RefusalReason.CREDIT_LIMIT_EXCEEDED),
        (100, "nobody", "EUR", RefusalReason.NO_ACCOUNT),
        (100, None, "EUR", RefusalReason.NO_ACCOUNT),
        (100, "ada", "USD", RefusalReason.CURRENCY_MISMATCH),
    ],
)
async def test_refusals(  # noqa: PLR0917 - fixtures and parameters
    store: BillingStore,
    credit: CreditHandlers,
    amount: int,
    user: str | None,
    currency: str,
    reason: RefusalReason,
) -> None:
    await opened(store, credit)
    command = commands.ReserveCredit("c1", "saga-1", "orders/o1", user, amount, currency)
    await credit.reserve_credit(store.uow(), command)

    sent = store.outbox[-1]
    assert isinstance(sent, ReplySent)
    assert sent.reply == CreditRefused("c1", "saga-1", "orders/o1", reason)
    assert store.accounts["ada"].reserved_minor == 0


async def test_release_frees_the_credit_and_a_late_reserve_is_refused(
    store: BillingStore, credit: CreditHandlers
) -> None:
    await opened(store, credit)
    await credit.reserve_credit(store.uow(), reserve("orders/o1", 2500))
    release = commands.ReleaseCredit("c2", "saga-1", "orders/o1")
    await credit.release_credit(store.uow(), release)
    await credit.release_credit(store.uow(), release)
    await credit.release_credit(store.uow(), commands.ReleaseCredit("c3", "saga-2", "orders/o2"))
    await credit.reserve_credit(store.uow(), reserve("orders/o2", 100, "c4"))

    assert store.accounts["ada"].reserved_minor == 0
    replies = [m.reply for m in store.outbox if isinstance(m, ReplySent)]
    assert replies[1:] == [
        CreditReleased("c2", "saga-1", "orders/o1"),
        CreditReleased("c2", "saga-1", "orders/o1"),
        CreditReleased("c3", "saga-2", "orders/o2"),
        CreditRefused("c4", "saga-1", "orders/o2", RefusalReason.RELEASED),
    ]


async def test_each_answer_is_logged_with_its_order_saga_and_command(
    store: BillingStore, credit: CreditHandlers, caplog: pytest.LogCaptureFixture
) -> None:
    await opened(store, credit)
    with caplog.at_level(logging.INFO, logger="usersuite.billing.service.credit"):
        await credit.reserve_credit(store.uow(), reserve("orders/o1", 2500))
    assert "order orders/o1 saga saga-1: command c1 answered CreditReserved" in caplog.messages


async def test_get_account_of_nobody_is_not_found(accounts: AccountHandlers) -> None:
    with pytest.raises(AccountNotFound):
        await accounts.get_account(commands.GetAccount("nobody"))


async def test_update_account_changes_the_limit_and_tells(
    store: BillingStore, credit: CreditHandlers, accounts: AccountHandlers
) -> None:
    await opened(store, credit)
    etag = store.accounts["ada"].etag
    updated = await accounts.update_account(
        commands.UpdateAccount("ada", 20_000, ["credit_limit_minor"], etag, "admin")
    )

    assert updated.credit_limit_minor == 20_000
    event = store.outbox[-1]
    assert isinstance(event, CreditLimitChanged)
    assert (event.previous_credit_limit_minor, event.metadata.principal) == (LIMIT, "admin")


async def test_update_account_refusals(
    store: BillingStore, credit: CreditHandlers, accounts: AccountHandlers
) -> None:
    await opened(store, credit)
    await credit.reserve_credit(store.uow(), reserve("orders/o1", 2500))

    with pytest.raises(EtagMismatch):
        await accounts.update_account(commands.UpdateAccount("ada", 5000, None, "stale"))
    with pytest.raises(CreditLimitBelowReserved):
        await accounts.update_account(commands.UpdateAccount("ada", 2000))
    with pytest.raises(ValidationFailed) as bad:
        await accounts.update_account(
            commands.UpdateAccount("ada", -1, ["credit_limit_minor", "reserved_minor", "x"])
        )
    fields = [v.field for v in bad.value.violations]
    assert fields == ["update_mask", "update_mask", "account.credit_limit_minor"]
    with pytest.raises(AccountNotFound):
        await accounts.update_account(commands.UpdateAccount("nobody", 5000))
    assert store.accounts["ada"].credit_limit_minor == LIMIT


async def test_a_closed_account_keeps_its_limit(
    store: BillingStore, credit: CreditHandlers, accounts: AccountHandlers
) -> None:
    await opened(store, credit)
    await credit.close_account(store.uow(), commands.CloseAccount("ada"))

    with pytest.raises(AccountClosed):
        await accounts.update_account(commands.UpdateAccount("ada", 5000))
    await credit.reserve_credit(store.uow(), reserve("orders/o1", 1))
    reply = store.outbox[-1]
    assert isinstance(reply, ReplySent)
    assert reply.reply == CreditRefused("c1", "saga-1", "orders/o1", RefusalReason.ACCOUNT_CLOSED)
