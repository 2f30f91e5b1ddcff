"""A database that comes up after the API (issue 19.2): `serve` and `migrate` fail fast in one
line, and the same commands, run again once PostgreSQL listens (as Kubernetes restarts a pod and
retries a Job), migrate and serve real calls."""

from collections.abc import Iterator

import pytest

from tests.support.grpcurl import Grpcurl
from tests.support.postgres import PostgresCluster
from tests.support.processes import Launch, run_usersuite, serve_args, server_env
from tests.support.tools import describe

pytestmark = pytest.mark.e2e
EXIT_UNAVAILABLE = 1


@pytest.fixture
def late_cluster() -> Iterator[PostgresCluster]:
    """A cluster whose port is chosen but not listening until the test starts it."""
    cluster = PostgresCluster()
    yield cluster
    cluster.remove()


def assert_fails_fast(*command: str, url: str, password: str) -> None:
    result = run_usersuite(*command, *serve_args()[1:] if command == ("serve",) else (),
                           env=server_env(url), timeout=90)  # fmt: skip

    assert result.returncode == EXIT_UNAVAILABLE, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    shown = url.replace(password, "***")
    assert result.stderr.strip() == (
        f"usersuite: cannot reach the database at {shown} (connection refused); "
        "check USERSUITE_DATABASE_URL"
    ), describe(result)
    assert "usersuite ready on" not in result.stdout, describe(result)


def test_serve_and_migrate_fail_fast_then_work_once_the_database_is_up(
    late_cluster: PostgresCluster, launch: Launch, grpcurl_bin: str
) -> None:
    url = late_cluster.url("users")

    assert_fails_fast("migrate", url=url, password=late_cluster.password)
    assert_fails_fast("serve", url=url, password=late_cluster.password)

    late_cluster.start()  # the database comes up: the test decides when, after both refusals
    url = late_cluster.create_database("users")  # the port may have moved if another took it
    migrated = run_usersuite("migrate", env=server_env(url), timeout=90)
    assert migrated.returncode == 0, describe(migrated)
    server = launch(serve_args(), server_env(url))
    server.wait_ready()
    user = Grpcurl(grpcurl_bin, server.target).ok(
        "user.v1.UserService/CreateUser",
        {"user": {"display_name": "Late", "email": "late@example.com"}},
    )
    assert user["email"] == "late@example.com"
