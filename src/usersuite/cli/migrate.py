"""`usersuite migrate`: upgrades the database schema to this version's head."""

import argparse

from usersuite.adapters.db import migrate
from usersuite.cli.common import Commands, add_command, database_flag, database_url, load_settings


def cmd_migrate(args: argparse.Namespace) -> int:
    url = database_url(load_settings(args))
    before = migrate.current_revision(url)
    migrate.upgrade(url)
    print(f"database schema at {migrate.head_revision()} (was {before or 'empty'})")
    return 0


def register(commands: Commands) -> None:
    add_command(commands, "migrate", "upgrade the schema", cmd_migrate, database_flag)
