"""outbox indexes of one state: pending rows by seq, parked rows by aggregate"""

from usersuite.platform.db.outbox_indexes import index_outbox_by_state, index_outbox_over_every_row

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    index_outbox_by_state()


def downgrade() -> None:
    index_outbox_over_every_row()
