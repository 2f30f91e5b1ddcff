"""What every command shares: its flags, loading the settings, and the checks before it runs."""

import argparse
import logging
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from pydantic import ValidationError

from usersuite.cli.failures import ConfigError
from usersuite.cli.services import SERVICES
from usersuite.platform.config import Settings, required
from usersuite.platform.ops.logs import configure_logging

log = logging.getLogger("usersuite")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("json", "text")


Flag = Callable[[argparse.ArgumentParser], None]
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of every command: where the config comes from and how it logs."""
    parser.add_argument("--config", type=Path, help="a TOML config file")
    parser.add_argument("--log-level", choices=LOG_LEVELS)
    parser.add_argument(
        "--log-format", choices=LOG_FORMATS, help="default: text on a terminal, else json"
    )


def database_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="overrides USERSUITE_DATABASE_URL")


def nats_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nats-url", help="overrides USERSUITE_NATS_URL")


def listen_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", help="gRPC host:port (port 0 picks a free one)")


def metrics_listen_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metrics-listen", help="metrics/health HTTP host:port")


def migrate_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--migrate", action="store_true", help="migrate a schema that is behind")


def add_group(commands: Commands, name: str, summary: str) -> Commands:
    """A command group (`usersuite events ...`) whose subcommands are added to the result."""
    group = commands.add_parser(name, help=summary, description=summary)
    return group.add_subparsers(dest=f"{name}_command", required=True)


def add_command(
    commands: Commands,
    name: str,
    summary: str,
    run: Callable[[argparse.Namespace], int],
    *flags: Flag,
) -> argparse.ArgumentParser:
    """A command with the config flags and `flags`; its --help opens with `summary`."""
    parser = commands.add_parser(name, help=summary, description=summary)
    add_config_flags(parser)
    for add in flags:
        add(parser)
    parser.set_defaults(run=run)
    return parser


def flags(args: argparse.Namespace, **defaults: object) -> dict[str, object]:
    """The settings given as flags on the command line, then `defaults` (None: not given)."""
    given = {
        "listen": getattr(args, "listen", None),
        "metrics_listen": getattr(args, "metrics_listen", None),
        "database_url": getattr(args, "database_url", None),
        "nats_url": getattr(args, "nats_url", None),
        "migrate_on_start": True if getattr(args, "migrate", False) else None,
        "log_level": getattr(args, "log_level", None),
    }
    for key, value in defaults.items():
        if given.get(key) is None:
            given[key] = value
    return given


def load_settings(args: argparse.Namespace, **defaults: object) -> Settings:
    """The effective settings: flags given on the command line win, then `defaults`."""
    try:
        settings = Settings.load(args.config, **flags(args, **defaults))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
    except tomllib.TOMLDecodeError:
        raise  # usersuite.cli.failures names the file
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    configure_logging(settings.log_level, args.log_format or settings.telemetry.log_format)
    args.settings = settings  # what a failure's line names (usersuite.cli.failures)
    return settings


def database_url(settings: Settings) -> str:
    """The database URL, which this command cannot run without."""
    return required(settings.database_url, "database_url").get_secret_value()


def nats_url(settings: Settings) -> str:
    """The NATS URL, which this command cannot run without."""
    return required(settings.nats_url, "nats_url")


# The services `serve` and `migrate` know; the registry loads no service code at import.
SERVICE_NAMES = tuple(SERVICES)


def service_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "service", nargs="?", default="users", choices=SERVICE_NAMES,
        help="which service (default: users); each owns its database",
    )  # fmt: skip


def check_schema(settings: Settings, service: str = "users") -> None:
    """Refuses a schema that is behind, or migrates it when the settings allow."""
    from usersuite.cli.services import service as entry

    migrate = entry(service).migrations  # Alembic: only for commands that use a database
    url = database_url(settings)
    head = migrate.head_revision()
    current = migrate.current_revision(url)
    if current == head:
        return
    if settings.migrate_on_start:
        log.info("migrating the database schema from %s to %s", current or "empty", head)
        migrate.upgrade(url)
        return
    raise ConfigError(
        f"the database schema is at revision {current or 'none (empty database)'} but this "
        f"version needs {head}: run `usersuite migrate` first, or start with --migrate"
    )


def command_name(name: str) -> str:
    """How a user in this directory runs `name`: relative when it lives inside the project."""
    found = shutil.which(name)
    if found and Path(found).absolute().is_relative_to(Path.cwd()):
        return str(Path(found).absolute().relative_to(Path.cwd()))
    return name
