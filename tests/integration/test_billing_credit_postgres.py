"""Billing's credit use cases on PostgreSQL, concurrently: the account lock keeps the limit."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.support.billing import reserved_minor
from usersuite.billing.adapters.db.unit_of_work import SqlUnitOfWork
from usersuite.billing.api.mapping import encode_message
from usersuite.billing.domain.messages import CreditRefused, CreditReserved, RefusalReason
from usersuite.billing.service import commands
from usersuite.billing.service.credit import CreditHandlers

LIMIT = 10_000


@pytest.fixture
async def engine(billing_pg_url: str) -> AsyncIterator[AsyncEngine]:
    created = create_async_engine(billing_pg_url, pool_size=8)
    yield created
    await created.dispose()


async def test_concurrent_reservations_never_exceed_the_limit(engine: AsyncEngine) -> None:
    credit = CreditHandlers(default_credit_limit_minor=LIMIT, default_currency_code="EUR")

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, encode_message)

    async with uow() as opening:
        await credit.open_account(opening, commands.OpenAccount("ada"))

    async def reserve(i: int) -> CreditReserved | CreditRefused:
        command = commands.ReserveCredit(f"c{i}", f"s{i}", f"orders/o{i}", "ada", 3000, "EUR")
        async with uow() as work:
            reply = (await credit.reserve_credit(work, command)).reply
        assert (
            not isinstance(reply, CreditReserved | CreditRefused) or reply.order == f"orders/o{i}"
        )
        assert isinstance(reply, CreditReserved | CreditRefused)
        return reply

    answers = await asyncio.gather(*(reserve(i) for i in range(6)))

    reserved = [a for a in answers if isinstance(a, CreditReserved)]
    refused = [a for a in answers if isinstance(a, CreditRefused)]
    assert len(reserved) == 3
    assert {r.reason for r in refused} == {RefusalReason.CREDIT_LIMIT_EXCEEDED}
    assert await reserved_minor(engine, "ada") == 9000
