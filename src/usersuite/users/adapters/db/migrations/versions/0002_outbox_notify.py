"""outbox insert wakes the bridge (PostgreSQL NOTIFY)"""

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"

CHANNEL = "usersuite_outbox"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no NOTIFY; the bridge polls there.
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
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER outbox_notify ON outbox; DROP FUNCTION usersuite_outbox_notify();")
