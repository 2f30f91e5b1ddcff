"""The operations HTTP listener: /metrics (Prometheus), /healthz (liveness), /readyz (readiness)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from usersuite.platform.config.addresses import AddressInUse, parse_address

log = logging.getLogger(__name__)


def _plain(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))],
    )
    return [data]


def _check(name: str, probe: Callable[[], bool]) -> bool:
    try:
        return probe()
    except Exception:  # a failing check means "no", never a 500
        log.exception("%s check failed", name)
        return False


def ops_app(
    registry: CollectorRegistry, ready: Callable[[], bool], live: Callable[[], bool] = lambda: True
) -> WSGIApplication:
    """The WSGI app behind the listener; `ready` runs on the listener's thread, so it must not
    touch the event loop (reading a flag, like DatabaseHealthMonitor.serving, is fine)."""
    metrics = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            served: Iterable[bytes] = metrics(environ, start_response)
            return served
        if path == "/healthz":
            if _check("liveness", live):
                return _plain(start_response, "200 OK", "ok\n")
            return _plain(start_response, "503 Service Unavailable", "stalled\n")
        if path == "/readyz":
            if _check("readiness", ready):
                return _plain(start_response, "200 OK", "ready\n")
            return _plain(start_response, "503 Service Unavailable", "not ready\n")
        return _plain(start_response, "404 Not Found", "not found\n")

    return app


class _QuietHandler(WSGIRequestHandler):
    """Probes and scrapes arrive every few seconds; one stderr line each would drown the log."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class OpsHttpServer:
    """Serves ops_app on `listen` (host:port; port 0 picks a free one) from a daemon thread."""

    def __init__(
        self,
        listen: str,
        registry: CollectorRegistry,
        ready: Callable[[], bool],
        live: Callable[[], bool] = lambda: True,
    ) -> None:
        self._host, self._port = parse_address(listen)
        self._app = ops_app(registry, ready, live)
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port; known once started."""
        if self._server is None:
            raise RuntimeError("the ops HTTP listener is not started")
        return int(self._server.server_address[1])

    def start(self) -> int:
        """Binds, starts serving and returns the bound port."""
        if self._server is not None:
            raise RuntimeError("the ops HTTP listener is already started")
        family = socket.getaddrinfo(
            self._host, self._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0][0]
        server_class = type("OpsServer", (ThreadingWSGIServer,), {"address_family": family})
        try:
            server: ThreadingWSGIServer = make_server(
                self._host, self._port, self._app, server_class, handler_class=_QuietHandler
            )
        except OSError as exc:
            raise AddressInUse(
                f"cannot listen on {self._host}:{self._port} (metrics): {exc}", "metrics_listen"
            ) from None
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="ops-http",
            daemon=True,
        )
        self._thread.start()
        host = f"[{self._host}]" if ":" in self._host else self._host
        log.info("ops HTTP on http://%s:%d (/metrics /healthz /readyz)", host, self.port)
        return self.port

    def stop(self) -> None:
        """Stops accepting, closes the listening socket; answers in progress finish on their own."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)


@contextmanager
def ops_listener(
    listen: str,
    registry: CollectorRegistry,
    ready: Callable[[], bool],
    live: Callable[[], bool] = lambda: True,
) -> Iterator[OpsHttpServer]:
    """The listener, started for the block and stopped (socket closed) when it ends."""
    server = OpsHttpServer(listen, registry, ready, live)
    server.start()
    try:
        yield server
    finally:
        server.stop()
