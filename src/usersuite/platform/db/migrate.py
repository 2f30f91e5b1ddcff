"""Schema migrations with Alembic: upgrade a service's database to head, tell whether it is behind.

Every service owns its database and its own Alembic history (a `migrations` directory); this
runner works on any of them."""

from dataclasses import dataclass
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine
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


def run_environment(metadata: MetaData) -> None:
    """The body of every service's Alembic env.py: runs its migrations on the connection
    `Migrations.upgrade` hands in, `metadata` being the service's tables."""
    context.configure(
        connection=context.config.attributes["connection"],
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        # A migration may run a step outside any transaction (platform/db/outbox_indexes.py).
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
