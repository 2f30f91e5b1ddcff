"""Envoy beside the dev API: started once the API listens, stopped with it."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from usersuite.gateway.envoy import envoy_config
from usersuite.gateway.launcher import GatewayUnavailable, RunningEnvoy, start_envoy
from usersuite.platform.config import Settings

# What became of the gateway: running, unavailable (and why), or switched off (None).
Outcome = RunningEnvoy | GatewayUnavailable | None


class GatewayBeside:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.envoy: RunningEnvoy | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start_then(self, api_port: int, announce: Callable[[Outcome], None]) -> None:
        """Starts Envoy in front of the API on `api_port`, then announces the outcome; the
        API keeps serving meanwhile (Envoy's health checks call it before it is ready)."""
        task = asyncio.create_task(self._start(api_port, announce), name="gateway")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self, api_port: int, announce: Callable[[Outcome], None]) -> None:
        if not self.settings.gateway.enabled:
            announce(None)
            return
        try:
            config = envoy_config(self.settings, api_port=api_port)
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
