"""index outbox by aggregate and state (a parked event holds back its user)"""

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    op.create_index("ix_outbox_aggregate_name_state", "outbox", ["aggregate_name", "state"])


def downgrade() -> None:
    op.drop_index("ix_outbox_aggregate_name_state", table_name="outbox")
