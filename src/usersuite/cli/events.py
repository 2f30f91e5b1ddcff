"""`usersuite events tail`: watch the events in JetStream as JSON lines."""

import argparse
import asyncio
import sys

from usersuite.cli.common import (
    Commands,
    add_command,
    add_group,
    load_settings,
    nats_flag,
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


def tail_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subject", default=EVENT_SUBJECTS, help="a subject filter")
    parser.add_argument("--from-start", action="store_true", help="replay the whole stream")
    parser.add_argument("--limit", type=int, help="stop after this many events")


def register(commands: Commands) -> None:
    events = add_group(commands, "events", "watch the events in JetStream")
    add_command(
        events, "tail", "print events as JSON lines", cmd_events_tail, nats_flag, tail_flags
    )
