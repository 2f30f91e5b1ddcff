"""PostgreSQL for tests: a throwaway cluster on a free loopback port (initdb + pg_ctl), and the
databases tests create on it, migrated or empty."""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.support.ports import free_port
from tests.support.waiting import eventually
from usersuite.users.adapters.db.schema import migrations as migrate


def postgres_bin_dir() -> Path:
    """The newest installed server's bin directory (Debian keeps initdb off the PATH)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError("PostgreSQL server binaries not found: run `make setup` (or .ci/run)")


class PostgresCluster:
    """initdb, start, stop and remove a cluster; runs as `postgres` when we are root."""

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="usersuite-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user = "usersuite"
        self.password = "test-only-password"

    def _as_owner(self, *args: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return list(args)

    def start(self) -> "PostgresCluster":
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run(
            self._as_owner(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user,
                "--pwfile", str(pwfile), "-A", "scram-sha-256", "-E", "UTF8", "--no-sync",
            ),
            check=True, capture_output=True,
        )  # fmt: skip
        self._start_on_a_free_port()
        return self

    def _start_on_a_free_port(self, attempts: int = 3) -> None:
        """Another test process may take the free port between our choosing and binding it."""
        for _ in range(attempts - 1):
            try:
                self._pg_ctl("start")
                return
            except subprocess.CalledProcessError:
                if "Address already in use" not in self.log.read_text(errors="replace"):
                    raise
                self.port = free_port()
        self._pg_ctl("start")

    def _pg_ctl(self, action: str) -> None:
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        # pg_ctl waits 60 s by default; a machine busy with parallel tests may need longer.
        args = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w"]
        args += ["-t", "150"]
        if action == "start":
            args += ["-o", options, "start"]
        else:
            args += ["-m", "fast", action]
        result = subprocess.run(
            self._as_owner(*args), capture_output=True, text=True, timeout=180, check=False
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise subprocess.CalledProcessError(
                result.returncode, args, result.stdout, f"{result.stderr}\nserver log:\n{log}"
            )

    def stop(self) -> None:
        self._pg_ctl("stop")

    def restart(self) -> None:
        self.stop()
        self._pg_ctl("start")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(driver="postgresql"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)


def conninfo(url: str) -> str:
    """A SQLAlchemy URL as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def table_locked(url: str, table: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """Another session holds `table` (ACCESS EXCLUSIVE) until the block ends, so every statement
    on it waits; the lock is released on the way out."""
    async with await psycopg.AsyncConnection.connect(conninfo(url)) as holder:
        await holder.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(table))
        )
        try:
            yield holder
        finally:
            await holder.rollback()


async def lock_waiters(url: str, statement: str = "%") -> int:
    """Statements of other sessions (those like `statement`) waiting for a lock right now."""
    async with await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE %s",
            (statement,),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def until_waiting_for_lock(url: str, statement: str, what: str) -> None:
    """Returns once a statement of another session (like `statement`) waits for a lock: the
    test holds the lock, so the statement is in flight and stays there until it lets go."""

    async def waiting() -> bool:
        return await lock_waiters(url, statement) > 0

    await eventually(waiting, within=5, what=what)


class Postgres:
    """Creates databases on the session's server: our own cluster or USERSUITE_TEST_DATABASE_URL."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.template = f"usersuite_template_{uuid.uuid4().hex[:8]}"
        self._execute("CREATE DATABASE {}", self.template)
        migrate.upgrade(self._url(self.template))

    def _url(self, database: str) -> str:
        url = make_url(self.admin_url).set(drivername="postgresql+psycopg", database=database)
        return url.render_as_string(hide_password=False)

    def _execute(self, statement: str, *names: str) -> None:
        """Runs `statement` with `names` quoted as identifiers into its `{}` places."""
        query = sql.SQL(statement).format(*map(sql.Identifier, names))
        with psycopg.connect(conninfo(self.admin_url), autocommit=True) as conn:
            conn.execute(query)

    def new_database(self) -> str:
        """A database at the current schema (a copy of the migrated template)."""
        name = f"usersuite_test_{uuid.uuid4().hex[:12]}"
        self._execute("CREATE DATABASE {} TEMPLATE {}", name, self.template)
        return self._url(name)

    def empty_database(self) -> str:
        """A database with no schema at all, for what migrates it (`usersuite migrate`)."""
        name = f"usersuite_e2e_{uuid.uuid4().hex[:12]}"
        self._execute("CREATE DATABASE {} TEMPLATE template0", name)
        return self._url(name)

    def drop_database(self, url: str) -> None:
        self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", str(make_url(url).database))

    def close(self) -> None:
        self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.template)


class EmptyDatabases:
    """Empty databases made on demand, all dropped together."""

    def __init__(self, postgres: Postgres) -> None:
        self._postgres = postgres
        self._created: list[str] = []

    def create(self) -> str:
        url = self._postgres.empty_database()
        self._created.append(url)
        return url

    def drop_all(self) -> None:
        for url in self._created:
            self._postgres.drop_database(url)
        self._created.clear()
