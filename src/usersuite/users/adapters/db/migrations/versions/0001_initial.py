"""users, outbox and idempotency tables

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(63), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_users"),
        sa.UniqueConstraint("id", name="uq_users_id"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("aggregate_type", sa.String(50), nullable=False),
        sa.Column("aggregate_name", sa.String(100), nullable=False),
        sa.Column("aggregate_version", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("trace_context", sa.Text, nullable=False, server_default="{}"),
        sa.Column("principal", sa.String(255), nullable=False, server_default=""),
        sa.Column("occurred_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("dispatched_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index("ix_outbox_state_seq", "outbox", ["state", "seq"])
    op.create_table(
        "idempotency",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_idempotency"),
    )
    op.create_index("ix_idempotency_create_time", "idempotency", ["create_time"])


def downgrade() -> None:
    op.drop_table("idempotency")
    op.drop_index("ix_outbox_state_seq", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("users")
