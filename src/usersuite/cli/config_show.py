"""`usersuite config show`: the effective configuration, secrets redacted; with `--sources`,
where each value came from."""

import argparse
import json
from collections.abc import Mapping
from typing import Any

from usersuite.cli import common
from usersuite.platform.config import Settings


def with_sources(shown: dict[str, Any], sources: Mapping[str, str]) -> dict[str, Any]:
    """Each setting by dotted name: its shown value and the layer that set it."""
    entries = {}
    for name, source in sources.items():
        value: Any = shown
        for part in name.split("."):
            value = value[part]
        entries[name] = {"value": value, "source": source}
    return entries


def cmd_config_show(args: argparse.Namespace) -> int:
    shown = common.load_settings(args).redacted()
    if args.sources:
        shown = with_sources(shown, Settings.sources(args.config, **common.flags(args)))
    print(json.dumps(shown, indent=2, sort_keys=True))
    return 0


def sources_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sources", action="store_true",
        help="show each setting with where it came from: default, file, environment or flag",
    )  # fmt: skip


def register(commands: common.Commands) -> None:
    config = common.add_group(commands, "config", "inspect configuration")
    common.add_command(
        config, "show", "print the effective config, secrets redacted", cmd_config_show,
        common.database_flag, common.nats_flag, common.listen_flag, common.metrics_listen_flag,
        sources_flag,
    )  # fmt: skip
