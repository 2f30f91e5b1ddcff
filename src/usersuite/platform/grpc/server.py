"""Builds the gRPC server (create_server) and runs it until SIGTERM/SIGINT (serve)."""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]

from usersuite.platform.config.addresses import AddressInUse
from usersuite.platform.grpc.container import Container
from usersuite.platform.grpc.health import DatabaseHealthMonitor
from usersuite.platform.grpc.interceptors.chain import build_interceptors, transport_options
from usersuite.platform.grpc.interceptors.fused import fuse
from usersuite.platform.grpc.reflection import enable_reflection
from usersuite.platform.grpc.tls import server_credentials
from usersuite.platform.ops.background import Housekeeper
from usersuite.platform.ops.lifecycle import run_until_stopped, stop_on_signals

log = logging.getLogger(__name__)


@dataclass
class ApiServer:
    """The server with its health servicer and the monitor that drives it."""

    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer
    monitor: DatabaseHealthMonitor
    housekeepers: tuple[Housekeeper, ...]

    async def stop(self, grace: float) -> None:
        """Health NOT_SERVING first, then no new calls; in-flight calls get `grace` seconds."""
        for housekeeper in reversed(self.housekeepers):
            await housekeeper.stop()
        await self.monitor.stop()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


def create_server(container: Container[Any], listen: str, *, reuse_port: bool = False) -> ApiServer:
    """A configured, not yet started server bound to `listen` (port 0: a free port);
    `reuse_port` for a worker of `serve --workers N`, whose parent holds the port."""
    settings = container.settings
    limits = settings.limits
    # One grpc interceptor per run of our own concerns, composed once per method (fused.py).
    interceptors = fuse(
        build_interceptors(
            settings,
            authenticator=container.authenticator,
            tracer_provider=container.tracer_provider,
            metrics=container.metrics,
            errors=container.service.errors,
        )
    )
    options = transport_options(limits, reuse_port=reuse_port)
    server = grpc.aio.server(interceptors=interceptors, options=options)
    service = container.service
    service.add_to_server(server)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    health_service = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    enable_reflection((service.name, health_service), server, service.documented_descriptors)
    credentials = server_credentials(settings.tls)
    try:
        if credentials is None:
            port = server.add_insecure_port(listen)
        else:
            port = server.add_secure_port(listen, credentials)
    except RuntimeError as exc:  # grpc's "Failed to bind"
        raise AddressInUse(f"cannot listen on {listen} (gRPC): {exc}", "listen") from None
    monitor = DatabaseHealthMonitor(
        health,
        container.engine,
        (service.name,),
        container.settings.database.health_interval_seconds,
    )
    return ApiServer(server, port, health, monitor, container.housekeepers)


async def start(container: Container[Any], listen: str, *, reuse_port: bool = False) -> ApiServer:
    """Creates and starts the server; the caller stops it with `await server.stop(grace)`."""
    running = create_server(container, listen, reuse_port=reuse_port)
    await running.monitor.start()
    await running.server.start()
    for housekeeper in running.housekeepers:
        housekeeper.start()
    return running


async def run_api(
    container: Container[Any],
    stopping: asyncio.Event,
    on_ready: Callable[[int], None],
    also_ready: Callable[[], bool] = lambda: True,
    *,
    worker: bool = False,
) -> None:
    """The API through the one startup sequence; ready while the database (and `also_ready`)
    answers. A worker of `serve --workers N` shares its parent's port and leaves the ops HTTP
    listener to the parent."""
    settings = container.settings
    await run_until_stopped(
        stopping,
        metrics_listen=None if worker else settings.metrics_listen,
        registry=container.registry,
        start=lambda: start(container, settings.listen, reuse_port=worker),
        ready=lambda running: running.monitor.serving and also_ready(),
        announce=lambda running: on_ready(running.port),
        stop=lambda running: drain(running, settings.shutdown_grace_seconds),
    )


async def serve(
    container: Container[Any], on_ready: Callable[[int], None], *, worker: bool = False
) -> int:
    """Serves until SIGTERM or SIGINT, then drains gracefully; returns the exit code."""
    async with stop_on_signals() as stopping:
        try:
            await run_api(container, stopping, on_ready, worker=worker)
        finally:
            await container.close()
    return 0


async def drain(running: ApiServer, grace: float) -> None:
    log.info("shutting down: draining calls for up to %ss", grace)
    await running.stop(grace)
    log.info("stopped")
