"""Schema migrations with Alembic: upgrade a service's database to head, tell whether it is behind.

Every service owns its database and its own Alembic history (a `migrations` directory); this
runner works on any of them."""

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from usersuite.platform.db.engine import sync_url


@dataclass(frozen=True)
class Migrations:
    """One service's Alembic history, found in `directory`."""

    directory: Path

    def _config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.directory))
        return config

    def head_revision(self) -> str:
        head = ScriptDirectory.from_config(self._config()).get_current_head()
        assert head is not None
        return head

    def current_revision(self, url: str) -> str | None:
        engine = create_engine(sync_url(url), poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        finally:
            engine.dispose()

    def upgrade(self, url: str, revision: str = "head") -> None:
        if url.startswith("sqlite"):
            db_path = url.split("///", 1)[-1]
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(sync_url(url), poolclass=NullPool)
        try:
            # Not inside a transaction of ours: each migration runs in its own (the env.py's
            # transaction_per_migration), and a step may run outside one (CONCURRENTLY).
            with engine.connect() as conn:
                config = self._config()
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
                conn.commit()
        finally:
            engine.dispose()
