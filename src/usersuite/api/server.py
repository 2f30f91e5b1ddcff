"""Builds the gRPC server (create_server) and runs it until SIGTERM/SIGINT (serve)."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]

from user.v1 import user_pb2, user_pb2_grpc
from usersuite.adapters.db.maintenance import RequestIdJanitor
from usersuite.api.health import DatabaseHealthMonitor
from usersuite.api.interceptors.chain import build_interceptors, transport_options
from usersuite.api.ops_http import ops_listener
from usersuite.api.reflection import enable_reflection
from usersuite.api.servicer import UserServicer
from usersuite.api.tls import server_credentials
from usersuite.bootstrap import Container
from usersuite.config import AddressInUse
from usersuite.lifecycle import stop_on_signals

log = logging.getLogger(__name__)
USER_SERVICE = user_pb2.DESCRIPTOR.services_by_name["UserService"].full_name


@dataclass
class UserServer:
    """The server with its health servicer and the monitor that drives it."""

    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer
    monitor: DatabaseHealthMonitor
    janitor: RequestIdJanitor

    async def stop(self, grace: float) -> None:
        """Health NOT_SERVING first, then no new calls; in-flight calls get `grace` seconds."""
        await self.janitor.stop()
        await self.monitor.stop()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


def create_server(container: Container, listen: str) -> UserServer:
    """A configured, not yet started server bound to `listen` (port 0: a free port)."""
    settings = container.settings
    limits = settings.limits
    interceptors = build_interceptors(
        settings,
        authenticator=container.authenticator,
        tracer_provider=container.tracer_provider,
        metrics=container.metrics,
    )
    server = grpc.aio.server(interceptors=interceptors, options=transport_options(limits))
    user_pb2_grpc.add_UserServiceServicer_to_server(UserServicer(container.handlers), server)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    health_service = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    enable_reflection((USER_SERVICE, health_service), server)
    credentials = server_credentials(settings.tls)
    try:
        if credentials is None:
            port = server.add_insecure_port(listen)
        else:
            port = server.add_secure_port(listen, credentials)
    except RuntimeError as exc:  # grpc's "Failed to bind"
        raise AddressInUse(f"cannot listen on {listen} (gRPC): {exc}") from None
    monitor = DatabaseHealthMonitor(
        health, container.engine, (USER_SERVICE,), container.settings.db_health_interval_seconds
    )
    return UserServer(server, port, health, monitor, container.janitor)


async def start(container: Container, listen: str) -> UserServer:
    """Creates and starts the server; the caller stops it with `await server.stop(grace)`."""
    running = create_server(container, listen)
    await running.monitor.start()
    await running.server.start()
    running.janitor.start()
    return running


async def serve(container: Container, on_ready: Callable[[int], None]) -> int:
    """Serves until SIGTERM or SIGINT, then drains gracefully; returns the exit code."""
    settings = container.settings
    async with stop_on_signals() as stopping:
        started: list[UserServer] = []

        def ready() -> bool:
            return bool(started) and started[0].monitor.serving and not stopping.is_set()

        try:
            # The metrics port first: if it is taken, nothing else has started yet.
            with ops_listener(settings.metrics_listen, container.registry, ready=ready):
                running = await start(container, settings.listen)
                started.append(running)
                on_ready(running.port)
                await stopping.wait()
                await drain(running, settings.shutdown_grace_seconds)
        finally:
            await container.close()
    return 0


async def drain(running: UserServer, grace: float) -> None:
    log.info("shutting down: draining calls for up to %ss", grace)
    await running.stop(grace)
    log.info("stopped")
