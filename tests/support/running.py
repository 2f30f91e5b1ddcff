"""Servers tests start and always remove: one context manager for every kind of them."""

import contextlib
from collections.abc import Iterator
from typing import Protocol, Self, TypeVar


class Startable(Protocol):
    def start(self) -> Self: ...

    def remove(self) -> None: ...


S = TypeVar("S", bound=Startable)


@contextlib.contextmanager
def running(server: S) -> Iterator[S]:
    """Starts `server` and removes it (stopped, its files deleted) however the test ends."""
    server.start()
    try:
        yield server
    finally:
        server.remove()
