"""Every failure a user can cause is one line naming the setting and the cause (issue 19.1).

Each row runs a real `usersuite` command against a real fault: a PostgreSQL that refuses the
password or lacks the database, a closed loopback port, a held listening socket, a missing or
unreadable file, a malformed config file.
"""

import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.ports import free_port
from tests.support.processes import child_env, run_usersuite, server_env
from tests.support.tools import describe

pytestmark = pytest.mark.e2e

EXIT_UNAVAILABLE, EXIT_CONFIG = 1, 2
WRONG_PASSWORD = "not-the-password-Kq7"
GRPC_CORE_LOG = re.compile(r"[DIWE]\d{4} \d\d:\d\d:\d\d")
ALL_COMMANDS = (
    ("serve",), ("bridge",), ("migrate",), ("dev",), ("outbox", "list"), ("events", "tail"),
    ("config", "show"),
)  # fmt: skip
DATABASE_COMMANDS = (("serve",), ("bridge",), ("migrate",), ("outbox", "list"))


@dataclass(frozen=True)
class Fault:
    """The environment that causes a fault, and what the one line must say about it."""

    env: dict[str, str]
    status: int
    says: tuple[str, ...]


FaultMaker = Callable[[Path], Fault]


def closed_port() -> int:
    """A loopback port nothing listens on: bound then released, so the kernel refuses it."""
    return free_port()


@pytest.fixture
def held_port() -> Iterator[str]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield f"127.0.0.1:{holder.getsockname()[1]}"


def is_log_record(line: str) -> bool:
    """Log records (ours as JSON, grpc core's as `E1205 15:14:16.567 ...`) are not the line."""
    return not line.strip() or line.startswith("{") or GRPC_CORE_LOG.match(line) is not None


def run_with(command: tuple[str, ...], fault: Fault, cwd: Path, *args: str) -> None:
    result = run_usersuite(*command, *args, env=fault.env, cwd=cwd, timeout=90)

    assert result.returncode == fault.status, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    lines = [line for line in result.stderr.splitlines() if not is_log_record(line)]
    assert len(lines) == 1, describe(result)
    assert lines[0].startswith("usersuite: "), describe(result)
    for words in fault.says:
        assert words in lines[0], describe(result)
    assert WRONG_PASSWORD not in result.stderr


def nats_down() -> dict[str, str]:
    return {"USERSUITE_NATS_URL": f"nats://127.0.0.1:{closed_port()}"}


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_an_unreachable_database(tmp_path: Path, command: tuple[str, ...]) -> None:
    url = f"postgresql+psycopg://app:{WRONG_PASSWORD}@127.0.0.1:{closed_port()}/users"
    shown = url.replace(WRONG_PASSWORD, "***")
    fault = Fault(
        server_env(url, **nats_down()),
        EXIT_UNAVAILABLE,
        (f"cannot reach the database at {shown} (connection refused)", "USERSUITE_DATABASE_URL"),
    )
    run_with(command, fault, tmp_path)


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_a_wrong_database_password(
    tmp_path: Path, migrated_database: str, command: tuple[str, ...]
) -> None:
    url = make_url(migrated_database).set(password=WRONG_PASSWORD)
    fault = Fault(
        server_env(url.render_as_string(hide_password=False), **nats_down()),
        EXIT_CONFIG,
        ("refused the credentials (password authentication failed", "USERSUITE_DATABASE_URL"),
    )
    run_with(command, fault, tmp_path)


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_a_missing_database(
    tmp_path: Path, migrated_database: str, command: tuple[str, ...]
) -> None:
    url = make_url(migrated_database).set(database="no_such_database")
    fault = Fault(
        server_env(url.render_as_string(hide_password=False), **nats_down()),
        EXIT_CONFIG,
        ('does not exist (database "no_such_database" does not exist)', "USERSUITE_DATABASE_URL"),
    )
    run_with(command, fault, tmp_path)


@pytest.mark.parametrize(
    ("command", "env", "says"),
    [
        (("serve",), {}, "database_url is required: set USERSUITE_DATABASE_URL or --database-url"),
        (("outbox", "list"), {}, "database_url is required: set USERSUITE_DATABASE_URL"),
        (("events", "tail"), {}, "nats_url is required: set USERSUITE_NATS_URL or --nats-url"),
        (("bridge",), {"USERSUITE_DATABASE_URL": "postgresql+psycopg://app@db/users"},
         "nats_url is required: set USERSUITE_NATS_URL or --nats-url"),
        (("serve", "billing"), {"USERSUITE_DATABASE_URL": "postgresql+psycopg://app@db/billing"},
         "nats_url is required: set USERSUITE_NATS_URL or --nats-url"),
    ],
    ids=["serve", "outbox-list", "events-tail", "bridge", "serve-billing"],
)  # fmt: skip
def test_a_required_setting_left_unset(
    tmp_path: Path, command: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    run_with(command, Fault(child_env(**env), EXIT_CONFIG, (says,)), tmp_path)


def test_events_tail_with_nats_unreachable(tmp_path: Path) -> None:
    env = child_env(**nats_down())
    fault = Fault(env, EXIT_UNAVAILABLE, ("cannot reach NATS at nats://", "USERSUITE_NATS_URL"))
    run_with(("events", "tail"), fault, tmp_path)


@pytest.mark.parametrize("unreadable", [False, True], ids=["missing", "a-directory"])
def test_serve_with_a_tls_file_it_cannot_read(
    tmp_path: Path, migrated_database: str, unreadable: bool
) -> None:
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    key.write_text("a key file that is present, so the certificate is what is missing")
    if unreadable:
        cert.mkdir()
    env = server_env(
        migrated_database,
        USERSUITE_LISTEN="127.0.0.1:0",
        USERSUITE_METRICS_LISTEN="127.0.0.1:0",
        USERSUITE_TLS__CERT_FILE=str(cert),
        USERSUITE_TLS__KEY_FILE=str(key),
    )
    fault = Fault(env, EXIT_CONFIG, (f"tls.cert_file {cert}", "USERSUITE_TLS__CERT_FILE"))
    run_with(("serve",), fault, tmp_path)


@pytest.mark.parametrize(
    ("command", "variable"),
    [(("serve",), "USERSUITE_LISTEN"), (("dev",), "USERSUITE_METRICS_LISTEN")],
    ids=["serve-listen", "dev-metrics-listen"],
)
def test_a_port_in_use(
    tmp_path: Path, migrated_database: str, held_port: str, command: tuple[str, ...],
    variable: str,
) -> None:  # fmt: skip
    ports = {"USERSUITE_LISTEN": "127.0.0.1:0", "USERSUITE_METRICS_LISTEN": "127.0.0.1:0"}
    env = server_env(migrated_database, **{**ports, variable: held_port})
    if command == ("dev",):
        env = child_env(**{**ports, variable: held_port})
    fault = Fault(env, EXIT_CONFIG, (f"cannot listen on {held_port}", variable))
    run_with(command, fault, tmp_path)


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=" ".join)
def test_a_missing_config_file(tmp_path: Path, command: tuple[str, ...]) -> None:
    missing = tmp_path / "missing.toml"
    fault = Fault(child_env(), EXIT_CONFIG, (f"config file {missing} does not exist", "--config"))
    run_with(command, fault, tmp_path, "--config", str(missing))


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=" ".join)
def test_a_malformed_config_file(tmp_path: Path, command: tuple[str, ...]) -> None:
    malformed = tmp_path / "usersuite.toml"
    malformed.write_text('listen = "127.0.0.1:0\n')
    fault = Fault(
        child_env(), EXIT_CONFIG, (f"config file {malformed} is not valid TOML", "--config")
    )
    run_with(command, fault, tmp_path, "--config", str(malformed))


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://app@127.0.0.1:{closed_port()}/users"
    result = run_usersuite(
        "migrate", "--log-level", "DEBUG", "--log-format", "text", env=server_env(url),
        cwd=tmp_path, timeout=90,
    )  # fmt: skip

    assert result.returncode == EXIT_UNAVAILABLE, describe(result)
    assert "Traceback" in result.stderr, describe(result)
    assert result.stderr.rstrip().splitlines()[-1].startswith("usersuite: cannot reach"), describe(
        result
    )
