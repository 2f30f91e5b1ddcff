"""`usersuite bridge`: relays the outbox to NATS JetStream."""

import argparse
import asyncio

from usersuite.adapters.nats.jetstream import StreamConflict
from usersuite.bootstrap import bootstrap_bridge
from usersuite.bridge.runner import run_bridge
from usersuite.cli.common import (
    ConfigError,
    add_command,
    add_config_flags,
    add_database_flag,
    add_listen_flags,
    add_migrate_flag,
    add_nats_flag,
    check_schema,
    database_url,
    load_settings,
    nats_url,
)
from usersuite.config import redact_url


def cmd_bridge(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    database_url(settings)
    nats_url(settings)
    check_schema(settings)

    def on_ready() -> None:
        target = redact_url(str(settings.nats_url))
        print(f"usersuite bridge ready: relaying the outbox to {target}", flush=True)

    try:
        return asyncio.run(run_bridge(lambda: bootstrap_bridge(settings), on_ready))
    except StreamConflict as exc:
        raise ConfigError(str(exc)) from None


def register(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = add_command(commands, "bridge", "relay the outbox to NATS JetStream")
    add_config_flags(parser)
    add_database_flag(parser)
    add_nats_flag(parser)
    add_listen_flags(parser, grpc=False)
    add_migrate_flag(parser)
    parser.set_defaults(run=cmd_bridge)
