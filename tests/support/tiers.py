"""Tier markers: each tier's conftest marks the tests under its directory, once for the tier."""

from pathlib import Path

import pytest


def mark_tier(items: list[pytest.Item], directory: Path, tier: str) -> None:
    """Adds the `tier` marker (declared in pyproject's markers) to every item under `directory`."""
    marker = getattr(pytest.mark, tier)
    for item in items:
        if item.path.is_relative_to(directory):
            item.add_marker(marker)
