"""Statements that differ between PostgreSQL and SQLite, written once."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def upsert_insert(conn: AsyncConnection, table: Table) -> Any:
    """An INSERT that supports ON CONFLICT (`on_conflict_do_nothing`) on either database."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every time we store is UTC."""
    if value.tzinfo is UTC:  # PostgreSQL's sessions are in UTC (engine.py)
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
