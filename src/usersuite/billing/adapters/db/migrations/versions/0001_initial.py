"""accounts, reservations, the consumer inbox, and the shared outbox, idempotency and nonces

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHANNEL = "usersuite_outbox"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("user_id", sa.String(63), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("credit_limit_minor", sa.BigInteger, nullable=False),
        sa.Column("reserved_minor", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_accounts"),
    )
    op.create_table(
        "reservations",
        sa.Column("order_name", sa.String(100), nullable=False),
        sa.Column("user_id", sa.String(63), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("reserve_command_id", sa.String(64), nullable=True),
        sa.Column("refusal", sa.String(32), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_name", name="pk_reservations"),
    )
    op.create_table(
        "usersuite_inbox",
        sa.Column("consumer", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column(
            "received_time",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_usersuite_inbox"),
    )
    _shared_tables()


def _shared_tables() -> None:
    """The platform's tables in their final shape (users reached it over several revisions)."""
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
        sa.Column("partition_key", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index("ix_outbox_state_seq", "outbox", ["state", "seq"])
    op.create_index("ix_outbox_aggregate_name_state", "outbox", ["aggregate_name", "state"])
    op.create_table(
        "idempotency",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_idempotency"),
    )
    op.create_index("ix_idempotency_create_time", "idempotency", ["create_time"])
    op.create_table(
        "signing_nonces",
        sa.Column("key_id", sa.String(255), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "nonce", name="pk_signing_nonces"),
    )
    op.create_index("ix_signing_nonces_expire_time", "signing_nonces", ["expire_time"])
    if op.get_bind().dialect.name == "postgresql":
        # A hint only: delivered on commit, lost while no one listens; the bridge also polls.
        op.execute(
            f"""
            CREATE FUNCTION usersuite_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{CHANNEL}', '');
                RETURN NULL;
            END $$;
            CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
                FOR EACH STATEMENT EXECUTE FUNCTION usersuite_outbox_notify();
            """
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER outbox_notify ON outbox; DROP FUNCTION usersuite_outbox_notify();")
    for table in ("signing_nonces", "idempotency", "outbox", "usersuite_inbox"):
        op.drop_table(table)
    op.drop_table("reservations")
    op.drop_table("accounts")
