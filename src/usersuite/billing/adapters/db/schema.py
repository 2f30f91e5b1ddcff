"""The billing service's Alembic history, next to this module."""

from pathlib import Path

from usersuite.platform.db.migrate import Migrations

migrations = Migrations(Path(__file__).with_name("migrations"))
