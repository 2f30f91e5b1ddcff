"""`usersuite migrate`: upgrades the database schema to this version's head."""

import argparse

from usersuite.cli import common


def cmd_migrate(args: argparse.Namespace) -> int:
    from usersuite.cli.services import service  # see usersuite.cli: heavy imports on use

    migrate = service(args.service).migrations

    url = common.database_url(common.load_settings(args))
    before = migrate.current_revision(url)
    migrate.upgrade(url)
    print(f"database schema at {migrate.head_revision()} (was {before or 'empty'})")
    return 0


def register(commands: common.Commands) -> None:
    common.add_command(
        commands, "migrate", "upgrade a service's schema", cmd_migrate, common.service_flag,
        common.database_flag,
    )  # fmt: skip
