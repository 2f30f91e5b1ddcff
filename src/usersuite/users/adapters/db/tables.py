"""The users service's schema, its tables and the shared ones; its migrations create exactly it."""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from usersuite.platform.db.tables import NAMING_CONVENTION, SEQUENCE, add_platform_tables

metadata = MetaData(naming_convention=NAMING_CONVENTION)
add_platform_tables(metadata)

users = Table(
    "users",
    metadata,
    # The keyset cursor: creation order, never reused.
    Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
    Column("id", String(63), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("email", String(254), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
    UniqueConstraint("id"),
    UniqueConstraint("email"),
    # SQLite would otherwise reuse the numbers of the newest rows once they are deleted.
    sqlite_autoincrement=True,
)
