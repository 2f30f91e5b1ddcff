"""Building the CLI's parser loads none of the heavy parts: they load when a command runs."""

import subprocess
import sys

HEAVY = ("usersuite.bootstrap", "grpc", "alembic", "sqlalchemy.ext.asyncio", "nats.aio.client")


def test_the_parser_and_quick_commands_load_no_server_relay_or_migration_code() -> None:
    probe = (
        "import sys\n"
        "from usersuite.cli import build_parser\n"
        "build_parser()\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


def test_the_cli_lists_every_service_bootstrap_can_build() -> None:
    from usersuite.cli.common import SERVICE_NAMES
    from usersuite.cli.services import SERVICES

    assert set(SERVICE_NAMES) == set(SERVICES)
