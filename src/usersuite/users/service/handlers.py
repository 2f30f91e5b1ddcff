"""The use cases: one handler per command, each one unit of work (one transaction)."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ulid import ULID

from usersuite.platform.domain.events import EventMetadata, new_uuid, utc_now
from usersuite.platform.service.page_tokens import PageTokenCodec
from usersuite.platform.service.validation import Violations, canonical_request_id
from usersuite.users.domain.errors import (
    EtagMismatch,
    FieldViolation,
    RequestIdReused,
    UserNotFound,
    ValidationFailed,
)
from usersuite.users.domain.events import UserCreated, UserDeleted, UserUpdated
from usersuite.users.domain.model import (
    MUTABLE_FIELDS,
    User,
    check_display_name,
    check_user_id,
    normalize_email,
)
from usersuite.users.service import commands
from usersuite.users.service.unit_of_work import UnitOfWork, UserReads

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
OUTPUT_ONLY_PATHS = frozenset({"create_time", "update_time", "etag"})
IMMUTABLE_PATHS = frozenset({"name"})
# A mask names each field of User at most once; beyond this it is refused as a whole, so the
# violations listed (one per path) keep the error details far below a client's 8 KiB
# metadata limit, where a client would see RESOURCE_EXHAUSTED instead of our INVALID_ARGUMENT.
MAX_UPDATE_MASK_PATHS = 16
# A path is echoed in its violation shortened to this many characters.
MAX_ECHOED_PATH = 64


def new_user_id() -> str:
    """A sortable id: a lower-case ULID (starts with a digit, unlike client-chosen ids)."""
    return str(ULID()).lower()


@dataclass(frozen=True)
class ListPage:
    users: list[User]
    next_page_token: str


async def _locked_for_change(uow: UnitOfWork, user_id: str, etag: str) -> User:
    """The user, locked for this transaction, if it exists and matches the optional etag."""
    user = await uow.users.get(user_id, for_update=True)
    if user is None:
        raise UserNotFound(user_id)
    if etag and etag != user.etag:
        raise EtagMismatch(user_id)
    return user


class _UnitOfWorkReads(UserReads):
    """Reads through a unit of work of their own each, when no adapter offers better."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._uow = uow_factory

    async def get(self, user_id: str) -> User | None:
        async with self._uow() as uow:
            return await uow.users.get(user_id)

    async def list_after(self, cursor: int, limit: int) -> list[tuple[int, User]]:
        async with self._uow() as uow:
            return await uow.users.list_after(cursor, limit)


class UserHandlers:
    """Every user use case, over a unit-of-work factory and injectable clock and ids.

    `reads` serves the reads (GetUser, ListUsers), which commit nothing: an adapter may make
    them cheaper (coalesced, on held connections). By default each runs in a unit of work of
    `read_uow_factory` (none: `uow_factory`).
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        page_tokens: PageTokenCodec,
        clock: Callable[[], datetime] = utc_now,
        id_factory: Callable[[], str] = new_user_id,
        event_id_factory: Callable[[], str] = new_uuid,
        *,
        read_uow_factory: Callable[[], UnitOfWork] | None = None,
        reads: UserReads | None = None,
    ) -> None:
        self._uow = uow_factory
        self._reads = reads or _UnitOfWorkReads(read_uow_factory or uow_factory)
        self._tokens = page_tokens
        self._clock = clock
        self._new_id = id_factory
        self._new_event_id = event_id_factory

    def _metadata(
        self, user_id: str, version: int, when: datetime, principal: str
    ) -> EventMetadata:
        return EventMetadata(
            event_id=self._new_event_id(),
            occurred_time=when,
            aggregate_name=f"users/{user_id}",
            aggregate_version=version,
            principal=principal,
        )

    async def create_user(self, cmd: commands.CreateUser) -> User:
        violations = Violations()
        display_name = violations.check(
            "user.display_name", lambda: check_display_name(cmd.display_name)
        )
        email = violations.check("user.email", lambda: normalize_email(cmd.email))
        if cmd.user_id:
            violations.check("user_id", lambda: check_user_id(cmd.user_id, allow_generated=False))
        request_id = canonical_request_id(cmd.request_id, violations)
        violations.raise_if_any()
        assert display_name is not None
        assert email is not None

        fingerprint = hashlib.sha256(
            json.dumps([cmd.user_id, display_name, email]).encode()
        ).hexdigest()
        async with self._uow() as uow:
            if request_id:
                earlier = await uow.idempotency.claim(request_id, fingerprint)
                if earlier is not None:
                    if earlier.fingerprint != fingerprint:
                        raise RequestIdReused(request_id)
                    return earlier.user
            now = self._clock()
            user = User(
                id=cmd.user_id or self._new_id(),
                display_name=display_name,
                email=email,
                create_time=now,
                update_time=now,
                version=1,
            )
            await uow.users.add(user)
            await uow.outbox.append(
                UserCreated(self._metadata(user.id, 1, now, cmd.principal), user)
            )
            if request_id:
                await uow.idempotency.complete(request_id, user)
            await uow.commit()
        return user

    async def get_user(self, cmd: commands.GetUser) -> User:
        user = await self._reads.get(cmd.user_id)
        if user is None:
            raise UserNotFound(cmd.user_id)
        return user

    async def list_users(self, cmd: commands.ListUsers) -> ListPage:
        if cmd.page_size < 0:
            raise ValidationFailed([FieldViolation("page_size", "page_size must not be negative")])
        limit = min(cmd.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        fingerprint = f"page_size={cmd.page_size}"
        cursor = self._tokens.decode(cmd.page_token, fingerprint) if cmd.page_token else 0
        rows = await self._reads.list_after(cursor, limit + 1)
        page = rows[:limit]
        next_token = self._tokens.encode(page[-1][0], fingerprint) if len(rows) > limit else ""
        return ListPage(users=[user for _, user in page], next_page_token=next_token)

    def _update_values(self, cmd: commands.UpdateUser) -> dict[str, str]:
        """Validates the mask and the values it names; returns the normalised new values."""
        violations = Violations()
        paths = cmd.paths
        if paths is None:
            paths = [f for f in MUTABLE_FIELDS if cmd.values.get(f)]
            if not paths:
                violations.add(
                    "update_mask", "nothing to update: set update_mask or a mutable field"
                )
        elif "*" in paths:
            if len(paths) > 1:
                violations.add("update_mask", "'*' must be the only path")
            paths = list(MUTABLE_FIELDS)
        elif not paths:
            violations.add("update_mask", "update_mask must name at least one field")
        elif len(paths) > MAX_UPDATE_MASK_PATHS:
            violations.add(
                "update_mask",
                f"update_mask names {len(paths)} paths; at most {MAX_UPDATE_MASK_PATHS} "
                "are accepted",
            )
            violations.raise_if_any()
        for index, path in enumerate(paths):
            where = f"update_mask.paths[{index}]"
            shown = path if len(path) <= MAX_ECHOED_PATH else f"{path[:MAX_ECHOED_PATH]}..."
            if path in OUTPUT_ONLY_PATHS:
                violations.add(where, f"'{path}' is output only")
            elif path in IMMUTABLE_PATHS:
                violations.add(where, f"'{path}' is immutable")
            elif path not in MUTABLE_FIELDS:
                violations.add(where, f"'{shown}' is not a field of User")
        values: dict[str, str] = {}
        if "display_name" in paths:
            name = violations.check(
                "user.display_name", lambda: check_display_name(cmd.values.get("display_name", ""))
            )
            values["display_name"] = name or ""
        if "email" in paths:
            email = violations.check(
                "user.email", lambda: normalize_email(cmd.values.get("email", ""))
            )
            values["email"] = email or ""
        violations.raise_if_any()
        return values

    async def update_user(self, cmd: commands.UpdateUser) -> User:
        values = self._update_values(cmd)
        async with self._uow() as uow:
            user = await _locked_for_change(uow, cmd.user_id, cmd.etag)
            now = self._clock()
            updated, changed = user.with_changes(values, now)
            if not changed:
                return user
            if not await uow.users.update(updated, expected_version=user.version):
                raise EtagMismatch(cmd.user_id)
            await uow.outbox.append(
                UserUpdated(
                    self._metadata(user.id, updated.version, now, cmd.principal),
                    updated,
                    tuple(changed),
                )
            )
            await uow.commit()
        return updated

    async def delete_user(self, cmd: commands.DeleteUser) -> None:
        async with self._uow() as uow:
            user = await _locked_for_change(uow, cmd.user_id, cmd.etag)
            if not await uow.users.delete(cmd.user_id, expected_version=user.version):
                raise EtagMismatch(cmd.user_id)
            now = self._clock()
            await uow.outbox.append(
                UserDeleted(
                    self._metadata(user.id, user.version + 1, now, cmd.principal), user.name
                )
            )
            await uow.commit()
