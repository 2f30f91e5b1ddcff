"""The suite in one `usersuite dev` process: every service's API on its own port with its own
SQLite file, a relay per database, one NATS, and Envoy in front of them all."""

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from usersuite.cli import common
from usersuite.platform.config import Settings, parse_address

if TYPE_CHECKING:
    from usersuite.gateway.beside import GatewayBeside, Outcome
    from usersuite.platform.grpc.container import Container
    from usersuite.platform.relay.container import BridgeContainer

# The users service keeps the file it had before the suite, so a laptop's data stays.
DATABASE_FILES = {"users": "usersuite.db"}


def database_file(service: str) -> str:
    return DATABASE_FILES.get(service, f"{service}.db")


def dev_database(settings: Settings, service: str) -> Path:
    """Where `usersuite dev` keeps a service's SQLite database."""
    return settings.dev.dir.resolve() / database_file(service)


def dev_database_url(settings: Settings, service: str) -> str:
    return f"sqlite+aiosqlite:///{dev_database(settings, service)}"


def shifted(address: str, offset: int) -> str:
    """`address` with its port moved by `offset` (port 0, a free port, stays 0)."""
    host, port = parse_address(address)
    if port == 0 or offset == 0:
        return address
    return f"[{host}]:{port + offset}" if ":" in host else f"{host}:{port + offset}"


def service_settings(settings: Settings, service: str, index: int) -> Settings:
    """A service's settings in dev: the first service (users) has the given ones; the next
    take the following ports (50052, 9465, ...) and a SQLite file of their own."""
    if index == 0:
        return settings
    return settings.model_copy(
        update={
            "database_url": SecretStr(dev_database_url(settings, service)),
            "listen": shifted(settings.listen, index),
            "metrics_listen": shifted(settings.metrics_listen, index),
        }
    )


def suite_settings(settings: Settings) -> dict[str, Settings]:
    """Each service's settings, in the order the CLI lists them (users first)."""
    return {
        name: service_settings(settings, name, index)
        for index, name in enumerate(common.SERVICE_NAMES)
    }


def check_schemas(services: dict[str, Settings]) -> None:
    for name, service in services.items():
        common.check_schema(service, name)


@dataclass
class Running:
    """A service of the suite while dev runs: its API, its relay, the port it got."""

    name: str
    api: "Container[Any]"
    bridge: "BridgeContainer"
    port: int | None = None

    def relay_ready(self) -> bool:
        return self.bridge.relay.ready


# Called once every API listens and the gateway started (or could not): each service's port.
OnReady = Callable[[dict[str, int], "Outcome"], None]


async def run_suite(
    services: dict[str, Settings],
    stopping: asyncio.Event,
    gateway: "GatewayBeside",
    on_ready: OnReady,
) -> None:
    """Every service (`suite_settings`, with the NATS every part uses) and its relay until
    `stopping`; then the APIs stop first, then the relays. Envoy starts once every API
    listens, with an upstream per service."""
    # See usersuite.cli: heavy imports run on use.
    from usersuite.bootstrap import bootstrap_bridge
    from usersuite.cli.services import service as entry
    from usersuite.gateway.envoy import api_address
    from usersuite.platform.grpc.server import run_api

    running: list[Running] = []
    relays: list[asyncio.Task[None]] = []
    relay_stopping = asyncio.Event()

    def listening(part: Running, port: int) -> None:
        part.port = port
        ports = {p.name: p.port for p in running if p.port is not None}
        if len(ports) < len(running):
            return
        upstreams = {p.api.service.name: api_address(p.api.settings, p.port) for p in running}
        first = ports[running[0].name]
        gateway.start_then(first, lambda outcome: on_ready(ports, outcome), upstreams)

    try:
        for name, service in services.items():
            api = entry(name).build(service)
            running.append(Running(name, api, await bootstrap_bridge(service)))
        for part in running:
            relay = part.bridge.relay
            relays.append(asyncio.create_task(relay.run(relay_stopping), name=part.name))
        # One API failing (its port taken, say) stops the others: dev runs the suite or nothing,
        # and the CLI reports the first failure as one line, as `serve` would.
        try:
            async with asyncio.TaskGroup() as apis:
                for part in running:
                    ready = functools.partial(listening, part)
                    apis.create_task(run_api(part.api, stopping, ready, part.relay_ready))
        except BaseExceptionGroup as failures:
            raise failures.exceptions[0] from None
    finally:
        relay_stopping.set()
        await asyncio.gather(*relays, return_exceptions=True)
        for part in running:
            await part.bridge.close()
            await part.api.close()
