"""The whole suite as real processes: one nats-server with JetStream, `usersuite serve` of users,
orders and billing (each on a PostgreSQL database of its own, migrated by the CLI) and one
`usersuite bridge` per database, which carries its outbox to JetStream (the users events billing
consumes, the saga's commands and replies)."""

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.bridge_process import bridge_env, wait_bridge_ready
from tests.support.nats import NatsServer
from tests.support.postgres import EmptyDatabases
from tests.support.processes import UsersuiteProcess, run_usersuite, serve_args, server_env
from tests.support.running import running
from tests.support.tools import describe

SERVICES = ("users", "orders", "billing")
# Services that talk to JetStream themselves (consumers), beside their bridge.
NATS_CLIENTS = ("orders", "billing")

# The environment of a served service on its database: `server_env`, or one with auth on.
ServerEnv = Callable[..., dict[str, str]]


@dataclass
class Suite:
    """Every process of the suite; `servers` and `bridges` by service name, `urls` their
    databases. The crash helpers SIGKILL a process and start its successor with the same
    environment (a server on the same port, so clients' channels reconnect to it)."""

    nats: NatsServer
    servers: dict[str, UsersuiteProcess]
    bridges: dict[str, UsersuiteProcess]
    urls: dict[str, str]
    server_envs: dict[str, dict[str, str]]
    stack: ExitStack
    workdir: Path

    def target(self, service: str) -> str:
        return self.servers[service].target

    def kill_server(self, service: str) -> None:
        self.servers[service].kill()

    def start_server(self, service: str) -> UsersuiteProcess:
        """The successor of a killed server, on its port; waits for its ready line."""
        port = self.servers[service].port
        args = ["serve", "--listen", f"127.0.0.1:{port}", "--metrics-listen", "127.0.0.1:0"]
        process = start(self.stack, [*args, service], self.server_envs[service], self.workdir)
        process.wait_ready()
        self.servers[service] = process
        return process

    def kill_bridge(self, service: str) -> None:
        self.bridges[service].kill()

    def start_bridge(self, service: str) -> UsersuiteProcess:
        """A new bridge on the service's database (its own metrics port); waits until ready."""
        env = bridge_env(self.urls[service], self.nats.url)
        process = start(self.stack, ["bridge", service], env, self.workdir)
        asyncio.run(wait_bridge_ready(process))
        self.bridges[service] = process
        return process

    def restart_nats(self) -> None:
        """nats-server stopped (SIGTERM, so JetStream syncs its store) and started again on the
        same port and store: every client sees an outage and reconnects."""
        self.nats.stop()
        self.nats.start()


def migrate_service(service: str, database_url: str) -> None:
    """`usersuite migrate SERVICE`, as an operator runs it before the first `serve SERVICE`."""
    result = run_usersuite("migrate", service, env=server_env(database_url))
    assert result.returncode == 0, f"usersuite migrate {service} failed\n{describe(result)}"
    assert "database schema at" in result.stdout, describe(result)


@contextmanager
def running_suite(
    postgres: Any, workdir: Path, env: ServerEnv = server_env, **values: str
) -> Iterator[Suite]:
    """The suite, ready: bridges first (they make the stream the services consume from), then
    the servers; all stopped and the databases dropped however the block ends. `env(url,
    **values)` is each server's environment."""
    with ExitStack() as stack:
        nats = stack.enter_context(running(NatsServer()))
        databases = EmptyDatabases(postgres)
        stack.callback(databases.drop_all)
        urls = {service: databases.create() for service in SERVICES}
        bridges, servers, envs = {}, {}, {}
        for service, url in urls.items():
            migrate_service(service, url)
            bridges[service] = start(stack, ["bridge", service], bridge_env(url, nats.url), workdir)
        for bridge in bridges.values():
            asyncio.run(wait_bridge_ready(bridge))
        for service, url in urls.items():
            nats_url = {"USERSUITE_NATS_URL": nats.url} if service in NATS_CLIENTS else {}
            server_values = {**values, **nats_url}
            envs[service] = env(url, **server_values)
            servers[service] = start(stack, serve_args(service), envs[service], workdir)
        for server in servers.values():
            server.wait_ready()
        yield Suite(nats, servers, bridges, urls, envs, stack, workdir)


def start(
    stack: ExitStack, args: list[str], env: dict[str, str], workdir: Path
) -> UsersuiteProcess:
    """A `usersuite` process, stopped when the stack closes."""
    process = UsersuiteProcess(args, env, workdir, workdir)
    stack.callback(process.stop)
    return process
