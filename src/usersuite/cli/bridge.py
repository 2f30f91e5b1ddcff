"""`usersuite bridge`: relays the outbox to NATS JetStream."""

import argparse

from usersuite.cli import common
from usersuite.cli.failures import ConfigError
from usersuite.platform.config import redact_url


def cmd_bridge(args: argparse.Namespace) -> int:
    # See usersuite.cli: heavy imports run on use.
    import uvloop

    from usersuite.bootstrap import bootstrap_bridge
    from usersuite.platform.nats.jetstream import StreamConflict
    from usersuite.platform.relay.runner import run_bridge

    settings = common.load_settings(args)
    common.database_url(settings)
    common.nats_url(settings)
    common.check_schema(settings, args.service)  # the schema of the service owning the database

    def on_ready() -> None:
        target = redact_url(str(settings.nats_url))
        print(f"usersuite bridge ready: relaying the outbox to {target}", flush=True)

    try:
        # uvloop: the same asyncio, a cheaper loop per published event (measured by make bench).
        return uvloop.run(run_bridge(lambda: bootstrap_bridge(settings), on_ready))
    except StreamConflict as exc:
        raise ConfigError(str(exc)) from None


def register(commands: common.Commands) -> None:
    common.add_command(
        commands, "bridge", "relay the outbox to NATS JetStream", cmd_bridge, common.service_flag,
        common.database_flag, common.nats_flag, common.metrics_listen_flag, common.migrate_flag,
    )  # fmt: skip
