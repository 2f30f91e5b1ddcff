"""The account use cases of the API (GetAccount, UpdateAccount), each one unit of work."""

from collections.abc import Callable
from datetime import datetime

from usersuite.billing.domain.account import Account
from usersuite.billing.domain.errors import (
    AccountNotFound,
    EtagMismatch,
    FieldViolation,
    InvalidValue,
    ValidationFailed,
)
from usersuite.billing.domain.events import CreditLimitChanged
from usersuite.billing.service import commands
from usersuite.billing.service.unit_of_work import UnitOfWork
from usersuite.platform.domain.events import EventMetadata, new_uuid, utc_now

MUTABLE_PATHS = frozenset({"credit_limit_minor"})
OUTPUT_ONLY_PATHS = frozenset({"reserved_minor", "state", "create_time", "update_time", "etag"})
# Beyond this many paths a mask is refused as a whole, so the violations stay small.
MAX_UPDATE_MASK_PATHS = 16
MAX_ECHOED_PATH = 64


class MetadataFactory:
    """Fresh event metadata: a new id per message, the time from the injected clock."""

    def __init__(self, clock: Callable[[], datetime], event_id: Callable[[], str]) -> None:
        self._clock = clock
        self._event_id = event_id

    def now(self) -> datetime:
        return self._clock()

    def __call__(
        self, aggregate_name: str, version: int, when: datetime, principal: str
    ) -> EventMetadata:
        return EventMetadata(self._event_id(), when, aggregate_name, version, principal)


def _mask_violations(paths: list[str]) -> list[FieldViolation]:
    if len(paths) > MAX_UPDATE_MASK_PATHS:
        return [FieldViolation("update_mask", f"at most {MAX_UPDATE_MASK_PATHS} paths")]
    found = []
    for path in paths:
        shown = path if len(path) <= MAX_ECHOED_PATH else path[:MAX_ECHOED_PATH] + "..."
        if path in OUTPUT_ONLY_PATHS:
            found.append(FieldViolation("update_mask", f"{shown!r} is output only"))
        elif path not in MUTABLE_PATHS:
            why = f"{shown!r} cannot be updated; only credit_limit_minor can"
            found.append(FieldViolation("update_mask", why))
    return found


class AccountHandlers:
    """GetAccount and UpdateAccount over a unit-of-work factory, an injectable clock and ids."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        clock: Callable[[], datetime] = utc_now,
        event_id_factory: Callable[[], str] = new_uuid,
        *,
        read_uow_factory: Callable[[], UnitOfWork] | None = None,
    ) -> None:
        self._uow = uow_factory
        self._read_uow = read_uow_factory or uow_factory
        self._metadata = MetadataFactory(clock, event_id_factory)

    async def get_account(self, cmd: commands.GetAccount) -> Account:
        async with self._read_uow() as uow:
            account = await uow.accounts.get(cmd.user_id)
        if account is None:
            raise AccountNotFound(cmd.user_id)
        return account

    async def update_account(self, cmd: commands.UpdateAccount) -> Account:
        violations = _mask_violations(cmd.paths) if cmd.paths else []
        if cmd.credit_limit_minor < 0:
            violations.append(FieldViolation("account.credit_limit_minor", "must not be negative"))
        if violations:
            raise ValidationFailed(violations)
        # No mask: only fields given (non-zero) change, like UpdateUser.
        wanted = (
            cmd.credit_limit_minor != 0 if cmd.paths is None else "credit_limit_minor" in cmd.paths
        )
        async with self._uow() as uow:
            account = await uow.accounts.get(cmd.user_id, for_update=True)
            if account is None:
                raise AccountNotFound(cmd.user_id)
            if cmd.etag and cmd.etag != account.etag:
                raise EtagMismatch(cmd.user_id)
            if not wanted:
                return account
            now = self._metadata.now()
            try:
                changed = account.with_credit_limit(cmd.credit_limit_minor, now)
            except InvalidValue as exc:
                violation = FieldViolation("account.credit_limit_minor", str(exc))
                raise ValidationFailed([violation]) from None
            if changed is account:
                return account
            if not await uow.accounts.update(changed, account.version):
                raise EtagMismatch(cmd.user_id)
            meta = self._metadata(changed.name, changed.version, now, cmd.principal)
            await uow.outbox.append(CreditLimitChanged(meta, changed, account.credit_limit_minor))
            await uow.commit()
        return changed
