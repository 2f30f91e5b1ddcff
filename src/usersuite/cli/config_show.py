"""`usersuite config show`: the effective configuration, secrets redacted."""

import argparse
import json

from usersuite.cli.common import (
    add_command,
    add_config_flags,
    add_database_flag,
    add_listen_flags,
    add_nats_flag,
    load_settings,
)


def cmd_config_show(args: argparse.Namespace) -> int:
    print(json.dumps(load_settings(args).redacted(), indent=2, sort_keys=True))
    return 0


def register(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    config = add_command(commands, "config", "inspect configuration")
    subcommands = config.add_subparsers(dest="config_command", required=True)
    parser = add_command(subcommands, "show", "print the effective config, secrets redacted")
    add_config_flags(parser)
    add_database_flag(parser)
    add_nats_flag(parser)
    add_listen_flags(parser, grpc=True)
    parser.set_defaults(run=cmd_config_show)
