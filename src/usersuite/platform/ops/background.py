"""A named background task that runs until stopped: stopping cancels it and waits for the end."""

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol


class BackgroundTask:
    def __init__(self, name: str) -> None:
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        self._task = asyncio.create_task(work, name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


class Housekeeper(Protocol):
    """Work a process runs beside its server (purging expired rows, say): started with it,
    stopped with it. The edges hold it by this shape, not by the adapter that implements it."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...
