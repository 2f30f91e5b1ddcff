"""users.seq never hands out a number twice on SQLite (AUTOINCREMENT)

Without AUTOINCREMENT SQLite gives a new row the largest rowid + 1, so deleting the newest users
frees their numbers, and a page token that already points past them skips the next user created.
PostgreSQL's sequence never reuses a number, so there is nothing to do there.
"""

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"


def _recreate_users(*, autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # SQLite cannot alter a column: batch mode copies the rows into a new table. Copying the
    # rows also records the largest seq in sqlite_sequence, so numbers above it stay unused.
    with op.batch_alter_table(
        "users", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    _recreate_users(autoincrement=True)


def downgrade() -> None:
    _recreate_users(autoincrement=False)
