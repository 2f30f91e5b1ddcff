"""The API's composition on a database the test chose, closed when the block ends."""

import contextlib
from collections.abc import AsyncIterator

from tests.support.settings import make_settings
from usersuite.bootstrap import UsersContainer, bootstrap


@contextlib.asynccontextmanager
async def composed(database_url: str) -> AsyncIterator[UsersContainer]:
    """For tests on a database of their own (own_cluster), which the `api` fixture does not use."""
    api = bootstrap(make_settings(database_url))
    try:
        yield api
    finally:
        await api.close()
