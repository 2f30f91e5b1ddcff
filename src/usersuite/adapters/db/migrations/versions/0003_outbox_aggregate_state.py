"""index outbox by aggregate and state (a parked event holds back its user)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_aggregate_name_state", "outbox", ["aggregate_name", "state"])


def downgrade() -> None:
    op.drop_index("ix_outbox_aggregate_name_state", table_name="outbox")
