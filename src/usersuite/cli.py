"""The `usersuite` command line: serve, migrate, dev, config show."""

import argparse
import asyncio
import json
import logging
import secrets
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr, ValidationError

from usersuite.adapters.db import migrate
from usersuite.adapters.nats.jetstream import StreamConflict
from usersuite.api import server
from usersuite.api.auth.jwt import mint_token
from usersuite.bootstrap import bootstrap, bootstrap_bridge
from usersuite.bridge.outbox_admin import list_outbox, retry_parked
from usersuite.bridge.runner import run_bridge
from usersuite.bridge.tail import tail
from usersuite.config import (
    DEV_SECRET_PREFIX,
    AddressInUse,
    Settings,
    parse_address,
    redact_url,
)
from usersuite.dev import EmbeddedNatsError, run_dev
from usersuite.logging_setup import configure_logging

log = logging.getLogger("usersuite")
EXIT_CONFIG = 2


class ConfigError(Exception):
    """The configuration or the database state does not allow the command to run."""


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    flags = {
        "listen": getattr(args, "listen", None),
        "metrics_listen": getattr(args, "metrics_listen", None),
        "database_url": getattr(args, "database_url", None),
        "migrate_on_start": True if getattr(args, "migrate", False) else None,
        "log_level": getattr(args, "log_level", None),
    }
    for key, value in overrides.items():
        flags.setdefault(key, None)
        if flags[key] is None:
            flags[key] = value
    try:
        settings = Settings.load(args.config, **flags)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    configure_logging(settings.log_level, settings.telemetry.log_format)
    return settings


def _check_schema(settings: Settings) -> None:
    assert settings.database_url is not None
    url = settings.database_url.get_secret_value()
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


def _command(name: str) -> str:
    """How a user in this directory runs `name`: relative when it lives inside the project."""
    found = shutil.which(name)
    if found and Path(found).absolute().is_relative_to(Path.cwd()):
        return str(Path(found).absolute().relative_to(Path.cwd()))
    return name


def ready_line(settings: Settings, port: int, note: str = "") -> str:
    host, _ = parse_address(settings.listen)
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - dial, not bind
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    body = json.dumps({"user": {"display_name": "Ada Lovelace", "email": "ada@example.com"}})
    auth = ""
    if settings.auth.enabled and settings.mode == "dev":
        token = f"$({_command('usersuite')} token --scope 'users.read users.write')"
        auth = f'-H "authorization: Bearer {token}" '
    elif settings.auth.enabled:
        auth = '-H "authorization: Bearer $TOKEN" '  # a token from your identity provider
    command = (
        f"{_command('grpcurl')} -plaintext {auth}-d {shlex.quote(body)} {target} "
        "user.v1.UserService/CreateUser"
    )
    return f"usersuite ready on {target} (mode {settings.mode}{note}); try: {command}"


def _serve(settings: Settings) -> int:
    try:
        settings.check_api_security()
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None
    _check_schema(settings)
    container = bootstrap(settings)

    def on_ready(port: int) -> None:
        print(ready_line(settings, port), flush=True)

    return asyncio.run(server.serve(container, on_ready))


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings.database_url is None:
        raise ConfigError("database_url is required: set USERSUITE_DATABASE_URL or --database-url")
    return _serve(settings)


def _stored_dev_secrets(dev_dir: Path) -> dict[str, str]:
    path = dev_dir / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    return stored


def _dev_secret(dev_dir: Path, name: str) -> str:
    """A secret generated once per dev folder, so tokens survive restarts of `usersuite dev`."""
    stored = _stored_dev_secrets(dev_dir)
    if name not in stored:
        stored[name] = DEV_SECRET_PREFIX + secrets.token_urlsafe(32)
        dev_dir.mkdir(parents=True, exist_ok=True)
        path = dev_dir / "secrets.json"
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored[name]


def _dev_settings(args: argparse.Namespace) -> Settings:
    """Embedded defaults for a laptop: SQLite and secrets in the dev folder, auth on."""
    if Settings.explicit_mode(args.config) == "production":
        raise ConfigError(
            "this command is for dev mode only, but the configured mode is production"
        )
    base = _settings(args, mode="dev")
    dev_dir = base.dev_dir.resolve()
    auth = base.auth
    if auth.enabled and not (auth.hs256_secret or auth.jwks_file or auth.jwks_url):
        secret = _dev_secret(dev_dir, "auth_hs256_secret")
        auth = auth.model_copy(update={"hs256_secret": SecretStr(secret)})
    return _settings(
        args,
        mode="dev",
        database_url=f"sqlite+aiosqlite:///{dev_dir / 'usersuite.db'}",
        page_token_secret=_dev_secret(dev_dir, "page_token_secret"),
        migrate_on_start=True,
        auth=auth,
    )


def cmd_dev(args: argparse.Namespace) -> int:
    settings = _dev_settings(args)
    _check_schema(settings)

    def on_ready(port: int, nats_url: str) -> None:
        tail = f"{_command('usersuite')} events tail --nats-url {redact_url(nats_url)}"
        print(ready_line(settings, port, f"; watch events with: {tail}"), flush=True)

    try:
        return asyncio.run(run_dev(settings, on_ready))
    except EmbeddedNatsError as exc:
        raise ConfigError(str(exc)) from None


def cmd_token(args: argparse.Namespace) -> int:
    """Mints a token for `usersuite dev`; real tokens come from an identity provider.

    It signs with the dev folder's generated secret, or with a configured HS256 secret only
    when the mode is explicitly dev: a production secret in the environment is never used.
    """
    explicit_mode = Settings.explicit_mode(args.config)
    if explicit_mode == "production":
        raise ConfigError("this command is for dev mode only; the configured mode is production")
    settings = _settings(args, mode="dev")
    configured = settings.auth.hs256_secret
    if explicit_mode == "dev" and configured is not None:
        secret = configured.get_secret_value()
    else:
        stored = _stored_dev_secrets(settings.dev_dir.resolve()).get("auth_hs256_secret")
        if stored is None:
            raise ConfigError(
                f"no dev secret in {settings.dev_dir}/: start `usersuite dev` (make run) first"
            )
        secret = stored
    token = mint_token(
        secret.encode(),
        subject=args.subject,
        scopes=args.scope.split(),
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        ttl_seconds=args.ttl,
    )
    print(token)
    return 0


def cmd_bridge(args: argparse.Namespace) -> int:
    settings = _settings(args, nats_url=args.nats_url)
    if settings.database_url is None:
        raise ConfigError("database_url is required: set USERSUITE_DATABASE_URL or --database-url")
    if settings.nats_url is None:
        raise ConfigError("nats_url is required: set USERSUITE_NATS_URL or --nats-url")
    _check_schema(settings)

    def on_ready() -> None:
        target = redact_url(str(settings.nats_url))
        print(f"usersuite bridge ready: relaying the outbox to {target}", flush=True)

    try:
        return asyncio.run(run_bridge(lambda: bootstrap_bridge(settings), on_ready))
    except StreamConflict as exc:
        raise ConfigError(str(exc)) from None


def cmd_events_tail(args: argparse.Namespace) -> int:
    settings = _settings(args, nats_url=args.nats_url)
    if settings.nats_url is None:
        raise ConfigError("nats_url is required: set USERSUITE_NATS_URL or --nats-url")
    run = tail(settings, subject=args.subject, from_start=args.from_start, out=sys.stdout,
               limit=args.limit)  # fmt: skip
    try:
        return asyncio.run(run)
    except KeyboardInterrupt:
        return 0


def _database_settings(args: argparse.Namespace) -> Settings:
    settings = _settings(args)
    if settings.database_url is None:
        raise ConfigError("database_url is required: set USERSUITE_DATABASE_URL or --database-url")
    return settings


def cmd_outbox_list(args: argparse.Namespace) -> int:
    settings = _database_settings(args)
    return asyncio.run(list_outbox(settings, state=args.state, limit=args.limit, out=sys.stdout))


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    settings = _database_settings(args)
    event_ids = None if args.all else args.event_id
    if not args.all and not event_ids:
        raise ConfigError("name the parked events to retry with --event-id, or pass --all")
    return asyncio.run(retry_parked(settings, event_ids=event_ids, out=sys.stdout))


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings.database_url is None:
        raise ConfigError("database_url is required: set USERSUITE_DATABASE_URL or --database-url")
    url = settings.database_url.get_secret_value()
    before = migrate.current_revision(url)
    migrate.upgrade(url)
    print(f"database schema at {migrate.head_revision()} (was {before or 'empty'})")
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    print(json.dumps(_settings(args).redacted(), indent=2, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="usersuite", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="a TOML config file")
    common.add_argument("--database-url", help="overrides USERSUITE_DATABASE_URL")
    common.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serving = argparse.ArgumentParser(add_help=False)
    serving.add_argument("--listen", help="gRPC host:port (port 0 picks a free one)")
    serving.add_argument("--metrics-listen", help="metrics/health HTTP host:port")
    serving.add_argument("--migrate", action="store_true", help="migrate a schema that is behind")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", parents=[common, serving], help="run the gRPC API").set_defaults(
        run=cmd_serve
    )
    commands.add_parser(
        "dev", parents=[common, serving], help="run the suite locally on embedded defaults"
    ).set_defaults(run=cmd_dev)
    bridge = commands.add_parser(
        "bridge", parents=[common, serving], help="relay the outbox to NATS JetStream"
    )
    bridge.add_argument("--nats-url", help="overrides USERSUITE_NATS_URL")
    bridge.set_defaults(run=cmd_bridge)
    events = commands.add_parser("events", help="watch the events in JetStream")
    events_commands = events.add_subparsers(dest="events_command", required=True)
    tail_parser = events_commands.add_parser(
        "tail", parents=[common], help="print events as JSON lines"
    )
    tail_parser.add_argument("--nats-url", help="overrides USERSUITE_NATS_URL")
    tail_parser.add_argument("--subject", default="user.v1.>", help="a subject filter")
    tail_parser.add_argument("--from-start", action="store_true", help="replay the whole stream")
    tail_parser.add_argument("--limit", type=int, help="stop after this many events")
    tail_parser.set_defaults(run=cmd_events_tail)
    outbox_parser = commands.add_parser("outbox", help="inspect and re-queue outbox rows")
    outbox_commands = outbox_parser.add_subparsers(dest="outbox_command", required=True)
    list_parser = outbox_commands.add_parser("list", parents=[common], help="list outbox rows")
    list_parser.add_argument("--state", choices=["pending", "dispatched", "parked"])
    list_parser.add_argument("--limit", type=int, default=100)
    list_parser.set_defaults(run=cmd_outbox_list)
    retry_parser = outbox_commands.add_parser(
        "retry", parents=[common], help="re-queue parked rows for the bridge"
    )
    retry_parser.add_argument("--event-id", action="append", help="a parked event (repeatable)")
    retry_parser.add_argument("--all", action="store_true", help="every parked row")
    retry_parser.set_defaults(run=cmd_outbox_retry)
    commands.add_parser("migrate", parents=[common], help="upgrade the schema").set_defaults(
        run=cmd_migrate
    )
    token = commands.add_parser("token", parents=[common], help="mint a dev token (dev mode only)")
    token.add_argument("--scope", default="users.read users.write", help="space-separated")
    token.add_argument("--subject", default="dev-user")
    token.add_argument("--ttl", type=float, default=3600.0, help="lifetime in seconds")
    token.set_defaults(run=cmd_token)
    config = commands.add_parser("config", help="inspect configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser(
        "show", parents=[common, serving], help="print the effective config, secrets redacted"
    ).set_defaults(run=cmd_config_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level or "INFO", "text")
    try:
        code: int = args.run(args)
    except (ConfigError, AddressInUse) as exc:
        print(f"usersuite: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return code
