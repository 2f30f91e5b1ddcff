"""Unit-tier fixtures: handlers over the in-memory fakes, a stepping clock and predictable ids."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.fakes import FakeDatabase
from usersuite.service.handlers import UserHandlers
from usersuite.service.page_tokens import PageTokenCodec

T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
PAGE_TOKEN_KEY = b"unit-test-page-token-key-0123456789"


class SteppingClock:
    """Returns T0, T0+1s, T0+2s, ...: every call is a distinct, predictable instant."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> datetime:
        now = T0 + timedelta(seconds=self.calls)
        self.calls += 1
        return now


class Counter:
    """Numbered ids from a template, so a test can tell which call produced which id."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.issued: list[str] = []

    def __call__(self) -> str:
        value = self.template.format(len(self.issued) + 1)
        self.issued.append(value)
        return value


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
