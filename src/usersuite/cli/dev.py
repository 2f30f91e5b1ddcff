"""`usersuite dev`: the whole suite on a laptop — API, bridge and an embedded nats-server."""

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from pydantic import SecretStr

from usersuite.cli import common
from usersuite.cli.dev_secrets import dev_secret
from usersuite.cli.dev_suite import dev_database_url
from usersuite.cli.failures import ConfigError
from usersuite.cli.serve import ready_line
from usersuite.platform.config import Settings, redact_url
from usersuite.platform.nats.embedded import EmbeddedNatsError, embedded_nats
from usersuite.platform.ops.lifecycle import stop_on_signals

DEV_ONLY = "this command is for dev mode only, but the configured mode is production"


def refuse_production(args: argparse.Namespace) -> None:
    if Settings.explicit_mode(args.config) == "production":
        raise ConfigError(DEV_ONLY)


def dev_settings(args: argparse.Namespace) -> Settings:
    """Embedded defaults for a laptop: SQLite and secrets in the dev folder, auth on."""
    refuse_production(args)
    base = common.load_settings(args, mode="dev")
    dev_dir = base.dev.dir.resolve()
    auth = base.auth
    if auth.enabled and not (auth.hs256_secret or auth.jwks_file or auth.jwks_url):
        secret = dev_secret(dev_dir, "auth_hs256_secret")
        auth = auth.model_copy(update={"hs256_secret": SecretStr(secret)})
    return common.load_settings(
        args,
        mode="dev",
        database_url=dev_database_url(base, "users"),
        page_token_secret=dev_secret(dev_dir, "page_token_secret"),
        migrate_on_start=True,
        auth=auth,
    )


@asynccontextmanager
async def nats_for(settings: Settings) -> AsyncIterator[str]:
    """The configured NATS, or an embedded nats-server when none is."""
    if settings.nats_url is not None:
        yield settings.nats_url
        return
    async with embedded_nats(settings.dev.dir.resolve(), settings.dev.nats_listen) as url:
        yield url


def gateway_notes(settings: Settings, outcome: object) -> tuple[str, str]:
    """The ready line's console part (inside its parentheses) and its REST part, or a line on
    stderr saying why there is no gateway."""
    from usersuite.cli.gateway import console_hint, rest_hint
    from usersuite.gateway.launcher import GatewayUnavailable, RunningEnvoy

    if isinstance(outcome, GatewayUnavailable):
        print(f"usersuite: gateway not started: {outcome}; serving gRPC only", file=sys.stderr)
    if not isinstance(outcome, RunningEnvoy):
        return "", ""
    console = f"; {console_hint(settings, outcome.url)}" if settings.gateway.console else ""
    return console, f" ; or over REST: {rest_hint(settings, outcome.url)}"


async def run_dev(
    settings: Settings,
    services: dict[str, Settings],
    on_ready: Callable[[dict[str, int], str, tuple[str, str]], None],
) -> int:
    """Serves every service and relays until SIGTERM/SIGINT; stops the APIs first, then the
    relays, then NATS. Envoy (REST, gRPC-Web, Connect) starts once the APIs listen and stops
    after them. `on_ready(ports by service, NATS URL, the gateway's notes)`."""
    from usersuite.cli.dev_suite import run_suite
    from usersuite.gateway.beside import gateway_beside

    async with (
        stop_on_signals() as stopping,
        nats_for(settings) as nats_url,
        gateway_beside(settings) as gateway,
    ):
        settings = settings.model_copy(update={"nats_url": nats_url})
        with_nats = {n: s.model_copy(update={"nats_url": nats_url}) for n, s in services.items()}
        await run_suite(
            with_nats,
            stopping,
            gateway,
            lambda ports, outcome: on_ready(ports, nats_url, gateway_notes(settings, outcome)),
        )
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from usersuite.cli.dev_suite import check_schemas, suite_settings

    settings = dev_settings(args)
    services = suite_settings(settings)
    check_schemas(services)

    def on_ready(ports: dict[str, int], nats_url: str, gateway: tuple[str, str]) -> None:
        console, rest = gateway
        tail = f"{common.command_name('usersuite')} events tail --nats-url {redact_url(nats_url)}"
        note = f"{console}; watch events with: {tail}"
        lines = [ready_line(settings, ports["users"], note) + rest]
        saga = f"; then see its saga: {common.command_name('usersuite')} saga show orders/ID"
        notes = {"orders": saga}
        lines += [
            ready_line(services[name], port, notes.get(name, ""), name)
            for name, port in ports.items()
            if name != "users"
        ]
        print("\n".join(lines), flush=True)

    try:
        return asyncio.run(run_dev(settings, services, on_ready))
    except EmbeddedNatsError as exc:
        raise ConfigError(str(exc)) from None


def register(commands: common.Commands) -> None:
    common.add_command(
        commands, "dev", "run the suite locally on embedded defaults", cmd_dev,
        common.database_flag, common.listen_flag, common.metrics_listen_flag,
    )  # fmt: skip
