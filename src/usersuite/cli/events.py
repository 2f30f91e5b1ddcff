"""`usersuite events tail`: watch the events in JetStream as JSON lines."""

import argparse
import asyncio
import sys

from usersuite.cli import common
from usersuite.platform.config import EVENT_SUBJECTS


def cmd_events_tail(args: argparse.Namespace) -> int:
    from usersuite.bootstrap import tail_events  # see usersuite.cli: heavy imports run on use

    settings = common.load_settings(args)
    common.nats_url(settings)
    run = tail_events(settings, subject=args.subject, from_start=args.from_start, out=sys.stdout,
               limit=args.limit)  # fmt: skip
    try:
        return asyncio.run(run)
    except KeyboardInterrupt:
        return 0


def tail_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subject", default=EVENT_SUBJECTS, help="a subject filter")
    parser.add_argument("--from-start", action="store_true", help="replay the whole stream")
    parser.add_argument("--limit", type=int, help="stop after this many events")


def register(commands: common.Commands) -> None:
    events = common.add_group(commands, "events", "watch the events in JetStream")
    common.add_command(
        events, "tail", "print events as JSON lines", cmd_events_tail, common.nats_flag, tail_flags
    )
