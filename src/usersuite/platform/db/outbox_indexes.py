"""A migration step every service's history takes: the outbox indexed by state, one index each.

Migrations call these functions, so they are frozen once released: a later change to the
outbox's indexes is a new function (and a new migration in each service), never an edit here.
"""

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

# Partial indexes: (name, column, the one state they cover).
BY_STATE = (
    ("ix_outbox_pending_seq", "seq", "pending"),
    ("ix_outbox_parked_aggregate_name", "aggregate_name", "parked"),
)
# What they replace: (name, columns), indexes over every row.
OVER_EVERY_ROW = (
    ("ix_outbox_state_seq", ["state", "seq"]),
    ("ix_outbox_aggregate_name_state", ["aggregate_name", "state"]),
)


@contextlib.contextmanager
def _concurrently() -> Iterator[bool]:
    """On PostgreSQL, outside a transaction, so indexes are built and dropped CONCURRENTLY and
    the outbox takes writes meanwhile (a plain CREATE INDEX blocks every insert until it ends);
    elsewhere (SQLite) as any other step."""
    if op.get_bind().dialect.name != "postgresql":
        yield False
        return
    with op.get_context().autocommit_block():
        yield True


def index_outbox_by_state() -> None:
    """Pending rows by seq (the relay's claim), parked rows by aggregate (the rows that hold
    back their user's), replacing the two indexes over every row."""
    with _concurrently() as concurrently:
        for name, column, state in BY_STATE:
            # A concurrent build cut short leaves an invalid index of the name: built anew.
            op.drop_index(
                name, table_name="outbox", if_exists=True, postgresql_concurrently=concurrently
            )
            where = sa.text(f"state = '{state}'")
            op.create_index(
                name,
                "outbox",
                [column],
                postgresql_where=where,
                sqlite_where=where,
                postgresql_concurrently=concurrently,
            )
        for name, _ in OVER_EVERY_ROW:
            op.drop_index(
                name, table_name="outbox", if_exists=True, postgresql_concurrently=concurrently
            )


def index_outbox_over_every_row() -> None:
    """The way back: the two indexes over every row, the partial ones dropped."""
    with _concurrently() as concurrently:
        for name, columns in OVER_EVERY_ROW:
            op.drop_index(
                name, table_name="outbox", if_exists=True, postgresql_concurrently=concurrently
            )
            op.create_index(name, "outbox", columns, postgresql_concurrently=concurrently)
        for name, _, _ in BY_STATE:
            op.drop_index(
                name, table_name="outbox", if_exists=True, postgresql_concurrently=concurrently
            )
