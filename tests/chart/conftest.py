"""Chart fixtures: each value set rendered once per session by real Helm."""

import pytest

from tests.chart.helm import VALUE_SETS, render
from tests.chart.manifests import Manifests


@pytest.fixture(scope="session")
def renderings() -> dict[str, Manifests]:
    return {name: Manifests(render(files)) for name, files in VALUE_SETS.items()}


@pytest.fixture(params=sorted(VALUE_SETS))
def rendering(request: pytest.FixtureRequest, renderings: dict[str, Manifests]) -> Manifests:
    """Each value set in turn."""
    return renderings[request.param]
