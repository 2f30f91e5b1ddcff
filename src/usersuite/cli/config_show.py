"""`usersuite config show`: the effective configuration, secrets redacted."""

import argparse
import json

from usersuite.cli.common import (
    Commands,
    add_command,
    add_group,
    database_flag,
    listen_flag,
    load_settings,
    metrics_listen_flag,
    nats_flag,
)


def cmd_config_show(args: argparse.Namespace) -> int:
    print(json.dumps(load_settings(args).redacted(), indent=2, sort_keys=True))
    return 0


def register(commands: Commands) -> None:
    config = add_group(commands, "config", "inspect configuration")
    add_command(
        config, "show", "print the effective config, secrets redacted", cmd_config_show,
        database_flag, nats_flag, listen_flag, metrics_listen_flag,
    )  # fmt: skip
