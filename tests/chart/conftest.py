"""Chart fixtures: each value set rendered once per session by real Helm."""

from pathlib import Path

import pytest

from tests.chart.helm import VALUE_SETS, render
from tests.chart.manifests import Manifests
from tests.support.tiers import mark_tier


@pytest.fixture(scope="session")
def renderings() -> dict[str, Manifests]:
    return {name: Manifests(render(files)) for name, files in VALUE_SETS.items()}


@pytest.fixture(params=sorted(VALUE_SETS))
def rendering(request: pytest.FixtureRequest, renderings: dict[str, Manifests]) -> Manifests:
    """Each value set in turn."""
    return renderings[request.param]


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, Path(__file__).parent, "chart")
