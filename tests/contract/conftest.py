"""Contract-tier configuration: the tier marker of its tests."""

from pathlib import Path

import pytest

from tests.support.tiers import mark_tier


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, Path(__file__).parent, "contract")
