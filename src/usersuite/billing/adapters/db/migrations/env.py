"""Alembic environment: runs on the connection that usersuite.platform.db.migrate hands in."""

from alembic import context

from usersuite.billing.adapters.db.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    compare_type=True,
    # A migration may run a step outside any transaction (platform/db/outbox_indexes.py).
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
