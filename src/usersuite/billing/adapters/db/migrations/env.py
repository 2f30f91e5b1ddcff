"""Alembic environment: the billing tables, migrated as every service's (platform/db/migrate.py)."""

from usersuite.billing.adapters.db.tables import metadata
from usersuite.platform.db.migrate import run_environment

run_environment(metadata)
