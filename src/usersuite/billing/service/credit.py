"""The use cases inbound messages drive: accounts follow users, and the saga's credit commands."""

# Each runs in the unit of work it is given, which a consumer binds to the transaction that
# records the message in its inbox: the effect, its reply and the inbox row commit together, so a
# redelivered message finds it handled.

import logging
from collections.abc import Callable
from datetime import datetime

from usersuite.billing.domain import reservations
from usersuite.billing.domain.account import Account
from usersuite.billing.domain.events import AccountClosed, AccountOpened, ReplySent
from usersuite.billing.domain.reservations import CreditOutcome, Reservation
from usersuite.billing.service import commands
from usersuite.billing.service.handlers import MetadataFactory
from usersuite.billing.service.unit_of_work import UnitOfWork
from usersuite.platform.domain.events import new_uuid, utc_now

log = logging.getLogger(__name__)

# Saga replies are partitioned by their order; they version nothing of it.
REPLY_AGGREGATE_VERSION = 0


class StaleAccount(Exception):
    """The account changed between read and write under a lock: a bug, or a lost lock."""


class CreditHandlers:
    """Opening and closing accounts, reserving and releasing credit; never refused by an error:
    every outcome of a saga command is a reply."""

    def __init__(
        self,
        *,
        default_credit_limit_minor: int,
        default_currency_code: str,
        clock: Callable[[], datetime] = utc_now,
        event_id_factory: Callable[[], str] = new_uuid,
    ) -> None:
        self._limit = default_credit_limit_minor
        self._currency = default_currency_code
        self._metadata = MetadataFactory(clock, event_id_factory)

    async def open_account(self, uow: UnitOfWork, cmd: commands.OpenAccount) -> Account | None:
        """The new account, or None when the user has one already (a repeat is harmless)."""
        now = self._metadata.now()
        account = Account.open(
            cmd.user_id,
            currency_code=self._currency,
            credit_limit_minor=self._limit,
            now=now,
        )
        if not await uow.accounts.add(account):
            return None
        meta = self._metadata(account.name, account.version, now, cmd.principal)
        await uow.outbox.append(AccountOpened(meta, account))
        await uow.commit()
        return account

    async def close_account(self, uow: UnitOfWork, cmd: commands.CloseAccount) -> Account | None:
        """The closed account, or None when there was nothing open to close."""
        account = await uow.accounts.get(cmd.user_id, for_update=True)
        if account is None:
            return None
        now = self._metadata.now()
        closed = account.close(now)
        if closed is account:
            return None
        await self._store(uow, account, closed)
        meta = self._metadata(closed.name, closed.version, now, cmd.principal)
        await uow.outbox.append(AccountClosed(meta, closed))
        await uow.commit()
        return closed

    async def reserve_credit(self, uow: UnitOfWork, cmd: commands.ReserveCredit) -> CreditOutcome:
        # The account first, then the reservation: the same lock order as release.
        account = None
        if cmd.user_id is not None:
            account = await uow.accounts.get(cmd.user_id, for_update=True)
        existing = await uow.reservations.get(cmd.order, for_update=True)
        now = self._metadata.now()
        outcome = reservations.reserve(
            account,
            existing,
            order=cmd.order,
            amount_minor=cmd.amount_minor,
            currency_code=cmd.currency_code,
            command_id=cmd.command_id,
            saga_id=cmd.saga_id,
            now=now,
        )
        await self._keep(uow, (account, existing), outcome, now, cmd.principal)
        return outcome

    async def release_credit(self, uow: UnitOfWork, cmd: commands.ReleaseCredit) -> CreditOutcome:
        # ReleaseCredit names no account: the reservation says whose it is. Lock the account
        # before the reservation (the order reserve takes), then read the reservation again.
        seen = await uow.reservations.get(cmd.order)
        account = None
        if seen is not None and seen.user_id is not None:
            account = await uow.accounts.get(seen.user_id, for_update=True)
        existing = await uow.reservations.get(cmd.order, for_update=True)
        now = self._metadata.now()
        outcome = reservations.release(
            account,
            existing,
            order=cmd.order,
            command_id=cmd.command_id,
            saga_id=cmd.saga_id,
            now=now,
        )
        await self._keep(uow, (account, existing), outcome, now, cmd.principal)
        return outcome

    async def _keep(
        self,
        uow: UnitOfWork,
        read: tuple[Account | None, Reservation | None],
        outcome: CreditOutcome,
        now: datetime,
        principal: str,
    ) -> None:
        """Stores what the outcome says, and its reply, in the unit of work; `read` is the
        account and the reservation as they were read (locked)."""
        before, existing = read
        if before is not None and outcome.account is not None and outcome.account is not before:
            await self._store(uow, before, outcome.account)
        if outcome.reservation is not None and existing is None:
            await uow.reservations.add(outcome.reservation)
        elif outcome.reservation is not None:
            await uow.reservations.update(outcome.reservation)
        order = outcome.reply.order
        meta = self._metadata(order, REPLY_AGGREGATE_VERSION, now, principal)
        await uow.outbox.append(ReplySent(meta, outcome.reply))
        await uow.commit()
        reply = outcome.reply
        log.info("order %s saga %s: command %s answered %s", order, reply.saga_id,
                 reply.command_id, type(reply).__name__)  # fmt: skip

    @staticmethod
    async def _store(uow: UnitOfWork, before: Account, after: Account) -> None:
        if not await uow.accounts.update(after, before.version):
            raise StaleAccount(f"{before.name} changed while locked")
