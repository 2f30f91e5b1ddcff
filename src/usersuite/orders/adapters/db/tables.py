"""The orders service's schema: orders, sagas, the shared tables and its consumer's inbox."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from usersuite.platform.db.tables import (
    NAMING_CONVENTION,
    SEQUENCE,
    add_platform_tables,
    inbox,
)

metadata = MetaData(naming_convention=NAMING_CONVENTION)
add_platform_tables(metadata)
# Orders consumes billing's replies in its own database: its migrations create the inbox.
inbox.to_metadata(metadata)

orders = Table(
    "orders",
    metadata,
    # The keyset cursor: creation order, never reused.
    Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
    Column("id", String(63), nullable=False),
    Column("user_id", String(63), nullable=False),
    # The line items as JSON: immutable, always read with their order.
    Column("line_items", Text, nullable=False),
    Column("currency_code", String(3), nullable=False),
    Column("state", String(16), nullable=False),
    Column("rejection_reason", String(32), nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
    UniqueConstraint("id"),
    Index(None, "user_id", "seq"),
    sqlite_autoincrement=True,
)

sagas = Table(
    "sagas",
    metadata,
    Column("saga_id", String(36), primary_key=True),
    Column("order_id", String(63), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("step", String(16), nullable=False),
    # The command the saga waits on (its command_id is the one a reply must carry), as JSON.
    Column("command_id", String(36), nullable=True),
    Column("command", Text, nullable=True),
    Column("attempt", Integer, nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=True),
    Column("parked", Boolean, nullable=False),
    # Every step, send, reply and timeout, as JSON (`usersuite saga show`).
    Column("timeline", Text, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Index(None, "order_id"),
    # The deadline scanner's query: waiting sagas by deadline.
    Index(None, "deadline"),
)
