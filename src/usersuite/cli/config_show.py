"""`usersuite config show`: the effective configuration, secrets redacted."""

import argparse
import json

from usersuite.cli import common


def cmd_config_show(args: argparse.Namespace) -> int:
    print(json.dumps(common.load_settings(args).redacted(), indent=2, sort_keys=True))
    return 0


def register(commands: common.Commands) -> None:
    config = common.add_group(commands, "config", "inspect configuration")
    common.add_command(
        config, "show", "print the effective config, secrets redacted", cmd_config_show,
        common.database_flag, common.nats_flag, common.listen_flag, common.metrics_listen_flag,
    )  # fmt: skip
