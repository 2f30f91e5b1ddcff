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
        # The shared gRPC edge reaching up into the composition root.
        ("platform/grpc/server.py", "import usersuite.bootstrap", "Imports point one way"),
        # The platform reaching into a service.
        ("platform/ops/http.py", "import usersuite.users.api.servicer", "imports no service"),
        # The platform using a service's generated code.
        ("platform/relay/relay.py", "import user.v1.user_pb2", "imports no service"),
        ("platform/relay/relay.py", "import order.v1.order_pb2", "imports no service"),
        ("platform/consumer/tail.py", "import billing.v1.saga_pb2", "imports no service"),
        # One platform edge importing another.
        (
            "platform/consumer/tail.py",
            "import usersuite.platform.relay.relay",
            "Inside the platform",
        ),
        # A service's domain importing a framework.
        ("users/domain/model.py", "import sqlalchemy", "A domain imports only"),
        # A service's domain importing platform infrastructure.
        ("users/domain/model.py", "import usersuite.platform.db.engine", "A domain imports only"),
        # A service layer importing an adapter.
        (
            "users/service/handlers.py",
            "import usersuite.platform.db.tables",
            "A service layer imports only",
        ),
        # The NATS adapter leaning on the database adapter.
        ("platform/nats/messages.py", "import usersuite.platform.db.outbox_store", "do not import"),
        # The gRPC edge reaching past the service layer into a repository.
        (
            "users/api/servicer.py",
            "import usersuite.users.adapters.db.repository",
            "only through the service",
        ),
        # A service's inner layers pointing the wrong way.
        ("users/domain/events.py", "import usersuite.users.service.commands", "Inside a service"),
        # The SDK and a service importing each other.
        ("client/channel.py", "import usersuite.users.domain.model", "never import each other"),
        # Billing: reaching into users, the platform reaching into billing, its layers.
        (
            "billing/api/inbound.py",
            "import usersuite.users.domain.model",
            "never import each other",
        ),
        (
            "platform/consumer/worker.py",
            "import usersuite.billing.api.inbound",
            "imports no service",
        ),
        ("billing/domain/account.py", "import billing.v1.billing_pb2", "A domain imports only"),
        ("billing/service/credit.py", "import sqlalchemy", "A service layer imports only"),
        (
            "billing/api/servicer.py",
            "import usersuite.billing.adapters.db.repository",
            "only through the service",
        ),
        (
            "billing/domain/events.py",
            "import usersuite.billing.service.commands",
            "Inside a service",
        ),
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
