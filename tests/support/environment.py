"""A settings test's environment: none of the outer shell's USERSUITE_* variables or files."""

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No USERSUITE_* variable of the outer shell, and no stray file in the working directory."""
    for name in list(os.environ):
        if name.upper().startswith("USERSUITE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
