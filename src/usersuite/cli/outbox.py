"""`usersuite outbox list|retry`: inspect outbox rows and re-queue parked ones."""

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TextIO

from usersuite.cli import common
from usersuite.cli.failures import ConfigError
from usersuite.platform.config import Settings
from usersuite.platform.service.outbox import DISPATCHED, PARKED, PENDING, OutboxRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

DEFAULT_LIMIT = 100


@asynccontextmanager
async def _engine(settings: Settings) -> AsyncIterator["AsyncEngine"]:
    """One connection is all a one-shot command needs."""
    from usersuite.bootstrap import database_engine  # see usersuite.cli: heavy imports on use

    engine = database_engine(settings, pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()


def row_json(row: OutboxRow) -> str:
    return json.dumps(
        {
            "seq": row.seq,
            "event_id": row.event_id,
            "event_type": row.event_type,
            "aggregate_name": row.aggregate_name,
            "aggregate_version": row.aggregate_version,
            "state": row.state,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "occurred_time": row.occurred_time.isoformat().replace("+00:00", "Z"),
        }
    )


async def list_outbox(settings: Settings, *, state: str | None, limit: int, out: TextIO) -> int:
    """Prints one JSON line per row, oldest first."""
    from usersuite.platform.db import outbox_store

    async with _engine(settings) as engine, engine.connect() as conn:
        rows = await outbox_store.list_rows(conn, state, limit)
    for row in rows:
        print(row_json(row), file=out)
    return 0


async def retry_parked(settings: Settings, *, event_ids: list[str] | None, out: TextIO) -> int:
    """Parked rows (all when `event_ids` is None) go back to pending; prints how many."""
    from usersuite.platform.db import outbox_store
    from usersuite.platform.db.coordination import wake_relay

    async with _engine(settings) as engine, engine.begin() as conn:
        requeued = await outbox_store.requeue_parked(conn, event_ids)
        if requeued:
            await wake_relay(conn)
    print(f"re-queued {requeued} parked event(s)", file=out)
    return 0


def cmd_outbox_list(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    common.database_url(settings)
    return asyncio.run(list_outbox(settings, state=args.state, limit=args.limit, out=sys.stdout))


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    common.database_url(settings)
    event_ids = None if args.all else args.event_id
    if not args.all and not event_ids:
        raise ConfigError("name the parked events to retry with --event-id, or pass --all")
    return asyncio.run(retry_parked(settings, event_ids=event_ids, out=sys.stdout))


def list_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", choices=[PENDING, DISPATCHED, PARKED])
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT)


def retry_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--event-id", action="append", help="a parked event (repeatable)")
    parser.add_argument("--all", action="store_true", help="every parked row")


def register(commands: common.Commands) -> None:
    outbox = common.add_group(commands, "outbox", "inspect and re-queue outbox rows")
    common.add_command(
        outbox, "list", "list outbox rows", cmd_outbox_list, common.database_flag, list_flags
    )
    common.add_command(
        outbox, "retry", "re-queue parked rows for the bridge", cmd_outbox_retry,
        common.database_flag, retry_flags,
    )  # fmt: skip
