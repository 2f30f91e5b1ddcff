"""Alembic environment: the users tables, migrated as every service's (platform/db/migrate.py)."""

from usersuite.platform.db.migrate import run_environment
from usersuite.users.adapters.db.tables import metadata

run_environment(metadata)
