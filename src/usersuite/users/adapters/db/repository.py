"""SQLAlchemy implementations of the user repository, the outbox and the idempotency store."""

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.platform.db.dialect import as_utc
from usersuite.platform.db.driver import DriverStatement
from usersuite.platform.db.idempotency import COMPLETE_REQUEST, claim_request, completion
from usersuite.platform.db.outbox_writer import INSERT_OUTBOX, outbox_values
from usersuite.platform.db.pipeline import DeferredWrites, ErrorMapping
from usersuite.users.adapters.db.tables import users
from usersuite.users.domain.errors import EmailAlreadyExists, UserAlreadyExists
from usersuite.users.domain.events import DomainEvent
from usersuite.users.domain.model import User
from usersuite.users.service.unit_of_work import (
    IdempotencyStore,
    IdempotentResult,
    Outbox,
    UserRepository,
)

# Turns a domain event into (event type, serialized payload); the protobuf codec lives at the
# API edge and is passed in by bootstrap, so this module never imports generated code.
EventEncoder = Callable[[DomainEvent], tuple[str, bytes]]


# The users table has one column per User field (plus its own `seq`), under the same names.
_USER_FIELDS = tuple(f.name for f in fields(User))


USER_COLUMNS = tuple(users.c[name] for name in _USER_FIELDS)

# The hot statements are built once, with bound parameters: building a statement per call
# (and its cache key, to find the compiled SQL) cost a third of SQLAlchemy's share of a GetUser.
# Inline: nothing reads the generated `seq` back, so no RETURNING travels or is parsed.
_INSERT_USER = users.insert().inline()
_GET_USER = select(*USER_COLUMNS).where(users.c.id == bindparam("user_id"))
_GET_USER_FOR_UPDATE = _GET_USER.with_for_update()
# A page of users after a cursor, each row with its own cursor (`seq`) first.
LIST_USERS = (
    select(users.c.seq, *USER_COLUMNS)
    .where(users.c.seq > bindparam("cursor"))
    .order_by(users.c.seq)
    .limit(bindparam("limit"))
)
_LIST_USERS = DriverStatement(LIST_USERS)


def _user_values(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in _USER_FIELDS}


def user_from_row(row: Sequence[Any]) -> User:
    """A user from the values of `USER_COLUMNS`, in their order (User's own field order)."""
    user_id, display_name, email, created, updated, version = row
    return User(user_id, display_name, email, as_utc(created), as_utc(updated), version)


def users_page(rows: Sequence[Sequence[Any]]) -> list[tuple[int, User]]:
    """Rows of `LIST_USERS` as (cursor, user) pairs."""
    return [(row[0], user_from_row(row[1:])) for row in rows]


def _clash(user: User) -> ErrorMapping:
    """A write of `user` whose unique clashes become domain errors.

    No savepoint: a clash ends the use case, whose transaction is then rolled back whole, so
    nothing needs the transaction to go on after it (a savepoint cost two round trips a write).
    """

    def as_domain_error(exc: DBAPIError) -> Exception | None:
        if not isinstance(exc, IntegrityError):
            return None
        message = str(exc.orig)
        if "uq_users_email" in message or "users.email" in message:
            return EmailAlreadyExists(user.email)
        if "uq_users_id" in message or "users.id" in message:
            return UserAlreadyExists(user.id)
        return None

    return as_domain_error


@asynccontextmanager
async def _unique_violations_as_domain_errors(user: User) -> AsyncIterator[None]:
    try:
        yield
    except IntegrityError as exc:
        error = _clash(user)(exc)
        if error is not None:
            raise error from None
        raise


class SqlUserRepository(UserRepository):
    """Users on `conn`, or on the connection `writes` opens at the first statement (conn None);
    `writes` defers the inserts to the commit (alone: each runs at once)."""

    def __init__(self, conn: AsyncConnection | None, writes: DeferredWrites | None = None) -> None:
        self._writes = writes or DeferredWrites(conn, deferring=False)

    async def add(self, user: User) -> None:
        await self._writes.write(_INSERT_USER, _user_values(user), _clash(user))

    async def get(self, user_id: str, *, for_update: bool = False) -> User | None:
        conn = await self._writes.connection()
        query = _GET_USER_FOR_UPDATE if for_update else _GET_USER
        row = (await conn.execute(query, {"user_id": user_id})).first()
        return user_from_row(row) if row else None

    async def list_after(self, cursor: int, limit: int) -> list[tuple[int, User]]:
        conn = await self._writes.connection()
        return users_page(await _LIST_USERS.rows(conn, {"cursor": cursor, "limit": limit}))

    async def update(self, user: User, expected_version: int) -> bool:
        conn = await self._writes.connection()
        async with _unique_violations_as_domain_errors(user):
            result = await conn.execute(
                users.update()
                .where(users.c.id == user.id, users.c.version == expected_version)
                .values(
                    display_name=user.display_name,
                    email=user.email,
                    update_time=user.update_time,
                    version=user.version,
                )
            )
        return result.rowcount == 1

    async def delete(self, user_id: str, expected_version: int) -> bool:
        conn = await self._writes.connection()
        result = await conn.execute(
            users.delete().where(users.c.id == user_id, users.c.version == expected_version)
        )
        return result.rowcount == 1


class SqlOutbox(Outbox):
    def __init__(self, writes: DeferredWrites, encode: EventEncoder) -> None:
        self._writes = writes
        self._encode = encode

    async def append(self, event: DomainEvent) -> None:
        event_type, payload = self._encode(event)
        values = outbox_values(event.metadata, event_type, payload, "user.v1.User")
        await self._writes.write(INSERT_OUTBOX, values)


def _user_to_json(user: User) -> str:
    return json.dumps(
        {
            "id": user.id,
            "display_name": user.display_name,
            "email": user.email,
            "create_time": user.create_time.isoformat(),
            "update_time": user.update_time.isoformat(),
            "version": user.version,
        }
    )


def _user_from_json(text: str) -> User:
    data = json.loads(text)
    return User(
        id=data["id"],
        display_name=data["display_name"],
        email=data["email"],
        create_time=datetime.fromisoformat(data["create_time"]),
        update_time=datetime.fromisoformat(data["update_time"]),
        version=data["version"],
    )


class SqlIdempotencyStore(IdempotencyStore):
    def __init__(self, writes: DeferredWrites, clock: Callable[[], datetime]) -> None:
        self._writes = writes
        self._clock = clock

    async def claim(self, request_id: str, fingerprint: str) -> IdempotentResult | None:
        conn = await self._writes.connection()
        earlier = await claim_request(conn, request_id, fingerprint, self._clock())
        if earlier is None:
            return None
        return IdempotentResult(fingerprint=earlier[0], user=_user_from_json(earlier[1]))

    async def complete(self, request_id: str, user: User) -> None:
        await self._writes.write(COMPLETE_REQUEST, completion(request_id, _user_to_json(user)))
