"""Browser fixtures: a real API with authentication on, the real gateway in front of it, and
Debian's chromium driven by Playwright (its own browser download is never used)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.interop.clients import authenticating_server
from tests.support.gateway import envoy_in_front
from tests.support.tiers import mark_tier
from tests.support.tools import which

# Playwright waits for what a test expects up to this long: a busy machine starts pages slowly,
# and a wait that ends early fails the test instead of passing it by chance.
EXPECT_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def console_url(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The console as the gateway serves it, in front of `usersuite serve` on PostgreSQL."""
    with (
        authenticating_server(postgres, tmp_path_factory.mktemp("console-api")) as api,
        envoy_in_front(api.target, tmp_path_factory.mktemp("console-gateway")) as envoy,
    ):
        yield f"{envoy.url}/"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = which("chromium")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        # As root (CI, this machine) Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, Path(__file__).parent, "browser")
