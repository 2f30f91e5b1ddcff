"""`usersuite events tail`: watch the events in JetStream as JSON lines."""

import argparse
import asyncio
import sys

from usersuite.cli.common import (
    add_command,
    add_config_flags,
    add_nats_flag,
    load_settings,
    nats_url,
)
from usersuite.config import EVENT_SUBJECTS
from usersuite.consumer.tail import tail


def cmd_events_tail(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    nats_url(settings)
    run = tail(settings, subject=args.subject, from_start=args.from_start, out=sys.stdout,
               limit=args.limit)  # fmt: skip
    try:
        return asyncio.run(run)
    except KeyboardInterrupt:
        return 0


def register(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    events = add_command(commands, "events", "watch the events in JetStream")
    subcommands = events.add_subparsers(dest="events_command", required=True)
    parser = add_command(subcommands, "tail", "print events as JSON lines")
    add_config_flags(parser)
    add_nats_flag(parser)
    parser.add_argument("--subject", default=EVENT_SUBJECTS, help="a subject filter")
    parser.add_argument("--from-start", action="store_true", help="replay the whole stream")
    parser.add_argument("--limit", type=int, help="stop after this many events")
    parser.set_defaults(run=cmd_events_tail)
