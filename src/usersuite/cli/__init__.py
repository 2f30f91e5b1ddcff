"""The `usersuite` command line: one module per command group, each with only its own flags.

A command imports its heavy parts (bootstrap, the server, the relay, Alembic) when it runs, not
when the parser is built: `--help`, `--version`, `token`, `config show` and a refused
configuration answer without loading SQLAlchemy's engine, grpc or nats (about 1.5 s of CPU).
"""

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from usersuite.cli import (
    bridge,
    config_show,
    dev,
    events,
    gateway,
    migrate,
    outbox,
    saga,
    serve,
    token,
)
from usersuite.cli.failures import ConfigError, explain
from usersuite.platform.ops.logs import configure_logging

COMMAND_GROUPS = (
    serve, dev, bridge, events, outbox, saga, migrate, token, config_show, gateway,
)  # fmt: skip
DESCRIPTION = "Contract-first gRPC user service with a transactional outbox relayed to NATS."


def installed_version() -> str:
    try:
        return version("usersuite")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="usersuite", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"usersuite {installed_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level or "INFO", args.log_format or "auto")
    try:
        if args.config is not None and not args.config.is_file():  # every command has --config
            raise ConfigError(f"config file {args.config} does not exist; check --config")
        code: int = args.run(args)
    except Exception as exc:
        failure = explain(exc, getattr(args, "settings", None), args.config)
        if failure is None:
            raise  # not a fault a person can cause: a bug, with its traceback
        logging.getLogger("usersuite").debug("the failure in full", exc_info=exc)
        print(f"usersuite: {failure}", file=sys.stderr)
        return failure.status
    return code
