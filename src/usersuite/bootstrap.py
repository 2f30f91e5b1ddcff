"""The composition root: the one place that builds engines and wires concrete classes."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.adapters.db.engine import create_engine
from usersuite.adapters.db.unit_of_work import SqlUnitOfWork
from usersuite.api.mapping import encode_event
from usersuite.config import Settings
from usersuite.service.handlers import UserHandlers, utc_now
from usersuite.service.page_tokens import PageTokenCodec


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    handlers: UserHandlers

    @property
    def database_url(self) -> str:
        assert self.settings.database_url is not None
        return self.settings.database_url.get_secret_value()

    async def close(self) -> None:
        await self.engine.dispose()


def bootstrap(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> Container:
    if settings.database_url is None:
        raise ValueError("database_url (USERSUITE_DATABASE_URL) is required")
    if settings.page_token_secret is None:
        raise ValueError("page_token_secret (USERSUITE_PAGE_TOKEN_SECRET) is required")
    engine = create_engine(
        settings.database_url.get_secret_value(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    page_tokens = PageTokenCodec(settings.page_token_secret.get_secret_value().encode())
    handlers = UserHandlers(
        lambda: SqlUnitOfWork(engine, encode_event, clock), page_tokens, clock=clock
    )
    return Container(settings=settings, engine=engine, handlers=handlers)
