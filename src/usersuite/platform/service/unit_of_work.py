"""The unit of work every service's ports build on: one transaction, discarded unless committed.

A service's UnitOfWork subclasses it and names its repositories; its adapters implement both.
"""

import abc
from types import TracebackType
from typing import Self


class UnitOfWorkBase(abc.ABC):
    """One database transaction; changes are discarded unless commit() is called."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.end(exc)

    async def end(self, error: BaseException | None) -> None:
        """Ends the transaction, discarding what was not committed; `error` ended the block."""
        await self.rollback()

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None: ...
