"""The import contracts of docs/architecture.md hold, and break on a planted wrong-way import."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import run

REPO_ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the copy of the tree in `tree`, whose src/ shadows the installed package."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    config = str(tree / "pyproject.toml")
    return run(LINT_IMPORTS, "--no-cache", "--config", config, cwd=tree, env=env, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(
        REPO_ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy2(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(tree: Path, module: str, line: str) -> None:
    path = tree / "src" / "usersuite" / module
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # The gRPC edge reaching up into the composition root.
        ("api/server.py", "import usersuite.bootstrap", "Imports point one way"),
        # One edge importing another.
        ("consumer/tail.py", "import usersuite.bridge.relay", "Imports point one way"),
        # Process plumbing reaching up into an edge.
        ("ops/http.py", "import usersuite.api.servicer", "Imports point one way"),
        # The domain importing a framework.
        ("domain/model.py", "import sqlalchemy", "The domain imports nothing of ours"),
        # The service layer importing an adapter.
        ("service/handlers.py", "import usersuite.adapters.db.tables", "imports only the domain"),
        # The NATS adapter leaning on the database adapter.
        ("adapters/nats/messages.py", "import usersuite.adapters.db.outbox_store", "do not import"),
        # The gRPC edge reaching past the service layer into a repository.
        ("api/servicer.py", "import usersuite.adapters.db.repository", "only through the service"),
        # The relay using the user model's persistence.
        ("bridge/relay.py", "import usersuite.adapters.db.unit_of_work", "not the user model"),
    ],
)
def test_a_planted_wrong_way_import_breaks_a_contract(
    tree: Path, module: str, line: str, broken: str
) -> None:
    plant(tree, module, line)

    result = lint_imports(tree)

    assert result.returncode != 0
    broken_lines = [text for text in result.stdout.splitlines() if "BROKEN" in text]
    assert any(broken in text for text in broken_lines), result.stdout
