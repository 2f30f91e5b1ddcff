"""outbox partition key: a stable hash of the aggregate, so bridges can share the outbox"""

import zlib

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"

BATCH = 1000


def _key(aggregate_name: str) -> int:
    # Frozen here: the same function as usersuite.platform.db.partitions.partition_key.
    return zlib.crc32(aggregate_name.encode("utf-8")) & 0x7FFF_FFFF


def upgrade() -> None:
    op.add_column(
        "outbox", sa.Column("partition_key", sa.Integer(), nullable=False, server_default="0")
    )
    # Rows still to relay need their real key; dispatched ones are never read by a relay again.
    bind = op.get_bind()
    undone = sa.text("SELECT DISTINCT aggregate_name FROM outbox WHERE state <> 'dispatched'")
    names = [row[0] for row in bind.execute(undone)]
    update = sa.text("UPDATE outbox SET partition_key = :key WHERE aggregate_name = :name")
    for start in range(0, len(names), BATCH):
        bind.execute(update, [{"key": _key(n), "name": n} for n in names[start : start + BATCH]])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("partition_key")
