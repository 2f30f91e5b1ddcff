"""`usersuite migrate`: upgrades the database schema to this version's head."""

import argparse

from usersuite.adapters.db import migrate
from usersuite.cli.common import (
    add_command,
    add_config_flags,
    add_database_flag,
    database_url,
    load_settings,
)


def cmd_migrate(args: argparse.Namespace) -> int:
    url = database_url(load_settings(args))
    before = migrate.current_revision(url)
    migrate.upgrade(url)
    print(f"database schema at {migrate.head_revision()} (was {before or 'empty'})")
    return 0


def register(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = add_command(commands, "migrate", "upgrade the schema")
    add_config_flags(parser)
    add_database_flag(parser)
    parser.set_defaults(run=cmd_migrate)
