"""Unit-tier fixtures: handlers over the in-memory fakes, a stepping clock and predictable ids."""

from pathlib import Path

import pytest

from tests.support.fakes import PAGE_TOKEN_KEY, Counter, FakeDatabase, SteppingClock
from tests.support.tiers import mark_tier
from usersuite.platform.service.page_tokens import PageTokenCodec
from usersuite.users.service.handlers import UserHandlers


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def user_ids() -> Counter:
    # Shaped like the server's generated ids: 26 lower-case Crockford characters, digit first.
    return Counter("01j0000000000000000000{:04d}")


@pytest.fixture
def event_ids() -> Counter:
    return Counter("00000000-0000-4000-8000-{:012d}")


@pytest.fixture
def codec() -> PageTokenCodec:
    return PageTokenCodec(PAGE_TOKEN_KEY)


@pytest.fixture
def handlers(
    db: FakeDatabase,
    codec: PageTokenCodec,
    clock: SteppingClock,
    user_ids: Counter,
    event_ids: Counter,
) -> UserHandlers:
    return UserHandlers(db.uow, codec, clock=clock, id_factory=user_ids, event_id_factory=event_ids)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, Path(__file__).parent, "unit")
