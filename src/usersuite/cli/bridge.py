"""`usersuite bridge`: relays the outbox to NATS JetStream."""

import argparse
import asyncio

from usersuite.adapters.nats.jetstream import StreamConflict
from usersuite.bootstrap import bootstrap_bridge
from usersuite.bridge.runner import run_bridge
from usersuite.cli.common import (
    Commands,
    ConfigError,
    add_command,
    check_schema,
    database_flag,
    database_url,
    load_settings,
    metrics_listen_flag,
    migrate_flag,
    nats_flag,
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


def register(commands: Commands) -> None:
    add_command(
        commands, "bridge", "relay the outbox to NATS JetStream", cmd_bridge,
        database_flag, nats_flag, metrics_listen_flag, migrate_flag,
    )  # fmt: skip
