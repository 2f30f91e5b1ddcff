"""Envoy beside the dev API: started once the API listens, stopped with it."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from usersuite.gateway.envoy import envoy_config
from usersuite.gateway.launcher import GatewayUnavailable, RunningEnvoy, start_envoy
from usersuite.platform.config import Settings, UpstreamSettings

# What became of the gateway: running, unavailable (and why), or switched off (None).
Outcome = RunningEnvoy | GatewayUnavailable | None


def with_upstreams(settings: Settings, upstreams: dict[str, str]) -> Settings:
    """`settings` whose gateway sends each service of `upstreams` (full name -> host:port) to
    that address, unless an address is configured for it."""
    merged = dict(settings.gateway.upstreams)
    for name, address in upstreams.items():
        upstream = merged.get(name, UpstreamSettings())
        if upstream.address is None:
            merged[name] = upstream.model_copy(update={"address": address})
    gateway = settings.gateway.model_copy(update={"upstreams": merged})
    return settings.model_copy(update={"gateway": gateway})


class GatewayBeside:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.envoy: RunningEnvoy | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start_then(
        self,
        api_port: int,
        announce: Callable[[Outcome], None],
        upstreams: dict[str, str] | None = None,
    ) -> None:
        """Starts Envoy in front of the API on `api_port` (and each service of `upstreams`,
        full name -> host:port, at its address unless configured otherwise), then announces
        the outcome; the APIs keep serving meanwhile (Envoy's health checks call them before
        it is ready)."""
        settings = with_upstreams(self.settings, upstreams or {})
        task = asyncio.create_task(self._start(settings, api_port, announce), name="gateway")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(
        self, settings: Settings, api_port: int, announce: Callable[[Outcome], None]
    ) -> None:
        if not settings.gateway.enabled:
            announce(None)
            return
        try:
            config = envoy_config(settings, api_port=api_port)
            workdir = self.settings.dev.dir.resolve() / "envoy"
            self.envoy = await asyncio.to_thread(start_envoy, config, workdir)
        except (GatewayUnavailable, OSError, ValueError) as exc:
            announce(exc if isinstance(exc, GatewayUnavailable) else GatewayUnavailable(str(exc)))
            return
        announce(self.envoy)

    async def stop(self) -> None:
        """Waits for a start under way (bounded by its ready timeout; a cancelled thread would
        leave its Envoy running), then stops Envoy."""
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.envoy is not None:
            await asyncio.to_thread(self.envoy.stop)


@contextlib.asynccontextmanager
async def gateway_beside(settings: Settings) -> AsyncIterator[GatewayBeside]:
    gateway = GatewayBeside(settings)
    try:
        yield gateway
    finally:
        await gateway.stop()
