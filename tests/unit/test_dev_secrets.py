"""The dev secrets file is owner-only from the moment it exists, and replaced atomically."""

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from usersuite.cli.dev_secrets import SECRETS_FILE, dev_secret, stored_dev_secrets


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_the_secrets_file_is_owner_only_even_if_chmod_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("the process stopped right after creating the file")

    monkeypatch.setattr(os, "chmod", interrupted)
    monkeypatch.setattr(Path, "chmod", interrupted)
    with contextlib.suppress(KeyboardInterrupt):
        dev_secret(tmp_path, "page_token_secret")
    created = list(tmp_path.iterdir())
    assert created
    for path in created:
        assert mode(path) == 0o600, f"{path.name} is readable by others"


@pytest.mark.usefixtures("permissive_umask")
def test_secrets_are_kept_and_added_owner_only(tmp_path: Path) -> None:
    first = dev_secret(tmp_path, "page_token_secret")
    second = dev_secret(tmp_path, "auth_hs256_secret")
    assert dev_secret(tmp_path, "page_token_secret") == first
    assert stored_dev_secrets(tmp_path) == {
        "page_token_secret": first,
        "auth_hs256_secret": second,
    }
    assert [p.name for p in tmp_path.iterdir()] == [SECRETS_FILE]  # no drafts left behind
    assert mode(tmp_path / SECRETS_FILE) == 0o600
