"""orders, sagas, and the shared tables (outbox, idempotency, signing nonces, inbox)"""

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None

# BIGINT on PostgreSQL, INTEGER on SQLite: only an INTEGER PRIMARY KEY auto-increments there.
SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHANNEL = "usersuite_outbox"


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(63), nullable=False),
        sa.Column("user_id", sa.String(63), nullable=False),
        sa.Column("line_items", sa.Text, nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rejection_reason", sa.String(32), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_orders"),
        sa.UniqueConstraint("id", name="uq_orders_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_orders_user_id_seq", "orders", ["user_id", "seq"])
    op.create_table(
        "sagas",
        sa.Column("saga_id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("command_id", sa.String(36), nullable=True),
        sa.Column("command", sa.Text, nullable=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parked", sa.Boolean, nullable=False),
        sa.Column("timeline", sa.Text, nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("saga_id", name="pk_sagas"),
    )
    op.create_index("ix_sagas_order_id", "sagas", ["order_id"])
    op.create_index("ix_sagas_deadline", "sagas", ["deadline"])
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
    for table in ("usersuite_inbox", "signing_nonces", "idempotency", "outbox", "sagas", "orders"):
        op.drop_table(table)
