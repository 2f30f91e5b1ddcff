"""Alembic environment: the orders tables, migrated as every service's (platform/db/migrate.py)."""

from usersuite.orders.adapters.db.tables import metadata
from usersuite.platform.db.migrate import run_environment

run_environment(metadata)
