"""A real Envoy with the gateway's configuration in front of a real API, on free loopback ports."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from usersuite.gateway import envoy_config
from usersuite.gateway.launcher import RunningEnvoy, start_envoy
from usersuite.platform.config import Settings


def gateway_settings(api_target: str, **gateway: Any) -> Settings:
    """Settings whose gateway dials `api_target` and listens (with its admin) on free ports."""
    values = {"listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0", **gateway}
    return Settings(mode="dev", listen=api_target, gateway=values)


@contextlib.contextmanager
def envoy_in_front(api_target: str, workdir: Path, **gateway: Any) -> Iterator[RunningEnvoy]:
    """Envoy on the configuration `usersuite gateway config` prints for `gateway` settings,
    ready (its first health check of the API passed or failed); stopped at the end. For an API
    in another process: this blocks while Envoy starts."""
    envoy = start_envoy(envoy_config(gateway_settings(api_target, **gateway)), workdir)
    try:
        yield envoy
    finally:
        envoy.stop()


@contextlib.asynccontextmanager
async def envoy_in_front_async(
    api_target: str, workdir: Path, **gateway: Any
) -> AsyncIterator[RunningEnvoy]:
    """The same for an API served in the test's own event loop, which must keep answering
    Envoy's health checks while Envoy starts."""
    config = envoy_config(gateway_settings(api_target, **gateway))
    envoy = await asyncio.to_thread(start_envoy, config, workdir)
    try:
        yield envoy
    finally:
        await asyncio.to_thread(envoy.stop)
