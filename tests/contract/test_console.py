"""The committed console (gen/console) is what `make web` builds from web/ and gen/ts, and the
drift check says so when it is not."""

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.tools import REPO_ROOT, describe, run

CHECK = Path("tools") / "check_console.sh"


def test_the_committed_console_matches_a_fresh_build() -> None:
    result = run(str(REPO_ROOT / CHECK), cwd=REPO_ROOT)
    assert result.returncode == 0, describe(result)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """What the check reads, copied; the installed packages and generated types linked."""
    shutil.copytree(REPO_ROOT / "tools", tmp_path / "tools")
    shutil.copytree(REPO_ROOT / "gen" / "console", tmp_path / "gen" / "console")
    shutil.copytree(
        REPO_ROOT / "gen" / "ts",
        tmp_path / "gen" / "ts",
        ignore=shutil.ignore_patterns("node_modules"),
    )
    shutil.copytree(
        REPO_ROOT / "web", tmp_path / "web", ignore=shutil.ignore_patterns("node_modules", "build")
    )
    for linked in ("node_modules", "build"):
        (tmp_path / "web" / linked).symlink_to(REPO_ROOT / "web" / linked)
    return tmp_path


def edit(path: str, old: str, new: str) -> Callable[[Path], None]:
    def change(repo: Path) -> None:
        target = repo / path
        assert old in target.read_text()
        target.write_text(target.read_text().replace(old, new))

    return change


def add(path: str) -> Callable[[Path], None]:
    def change(repo: Path) -> None:
        (repo / path).write_text("stale\n")

    return change


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        pytest.param(
            edit("web/src/table.ts", "No users on this page.", "Nobody here."),
            "gen/console/console.js differs",
            id="source-changed-without-a-build",
        ),
        pytest.param(
            edit("gen/console/index.html", "<h1>", "<h1 class=x>"),
            "gen/console/index.html differs",
            id="bundle-edited-by-hand",
        ),
        pytest.param(
            add("gen/console/old.js"), "gen/console/old.js is not built any more", id="stale-file"
        ),
    ],
)
def test_the_drift_check_names_the_file(
    repo_copy: Path, change: Callable[[Path], None], complaint: str
) -> None:
    clean = run(str(repo_copy / CHECK), cwd=repo_copy)
    assert clean.returncode == 0, describe(clean)
    change(repo_copy)
    drifted = run(str(repo_copy / CHECK), cwd=repo_copy)
    assert drifted.returncode != 0, describe(drifted)
    assert complaint in drifted.stderr, describe(drifted)
