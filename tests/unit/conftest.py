"""Unit-tier fixtures: handlers over the in-memory fakes, a stepping clock and predictable ids."""

import pytest

from tests.support.fakes import PAGE_TOKEN_KEY, Counter, FakeDatabase, SteppingClock
from usersuite.service.handlers import UserHandlers
from usersuite.service.page_tokens import PageTokenCodec


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
