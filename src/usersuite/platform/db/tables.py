"""The tables every service's database holds (outbox, idempotency, signing nonces), and the inbox.

A service's own schema copies them into its metadata with `add_platform_tables`; the stores here
use these definitions, which name the same tables in every service's database."""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import NamedFromClause

from usersuite.platform.service.outbox import PARKED, PENDING

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)

# BIGINT on PostgreSQL, INTEGER on SQLite: only an INTEGER PRIMARY KEY auto-increments there.
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "outbox",
    metadata,
    Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("aggregate_type", String(50), nullable=False),
    Column("aggregate_name", String(100), nullable=False),
    Column("aggregate_version", BigInteger, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    # W3C trace context (traceparent, tracestate) of the call that made the change, as JSON.
    Column("trace_context", Text, nullable=False, server_default="{}"),
    Column("principal", String(255), nullable=False, server_default=""),
    Column("occurred_time", DateTime(timezone=True), nullable=False),
    # pending -> dispatched, or pending -> parked after too many failed attempts.
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("dispatched_time", DateTime(timezone=True), nullable=True),
    # A stable hash of aggregate_name: the relay's partition is partition_key % partitions.
    Column("partition_key", Integer, nullable=False, server_default="0"),
    UniqueConstraint("event_id"),
)


def in_state(state: str, rows: NamedFromClause = outbox) -> ColumnElement[bool]:
    """Outbox `rows` (or an alias of them) in `state`, the state written into the statement
    rather than bound: PostgreSQL's planner uses a partial index only where it can prove the
    index's condition, which a parameter of a prepared statement's generic plan never lets it."""
    return rows.c.state == literal_column(f"'{state}'")


# Two indexes of one state each: they stay as small as the relay's work however many dispatched
# rows retention keeps, and a mark (pending -> dispatched) adds to neither.
# The relay's claim and the backlog gauges: pending rows in seq order. (One index over every
# row's state let the planner, misled by statistics taken before the rows were relayed, walk the
# primary key through every dispatched row at each claim.)
Index(
    "ix_outbox_pending_seq",
    outbox.c.seq,
    postgresql_where=in_state(PENDING),
    sqlite_where=in_state(PENDING),
)
# A user's parked rows, which hold back the user's pending ones.
Index(
    "ix_outbox_parked_aggregate_name",
    outbox.c.aggregate_name,
    postgresql_where=in_state(PARKED),
    sqlite_where=in_state(PARKED),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    # The response, as the JSON of the domain User; NULL until the claiming call stores it.
    Column("response", Text, nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Index(None, "create_time"),
)

# Request-signing nonces seen by any API replica, until their timestamp can no longer be accepted.
signing_nonces = Table(
    "signing_nonces",
    metadata,
    Column("key_id", String(255), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("expire_time", DateTime(timezone=True), nullable=False),
    Index(None, "expire_time"),
)

# The inbox lives in a downstream consumer's own database, so it has a metadata of its own:
# our migrations never create it, `create_inbox` (or the consumer's migrations) do.
inbox_metadata = MetaData()
inbox = Table(
    "usersuite_inbox",
    inbox_metadata,
    Column("consumer", String(200), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("received_time", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


def add_platform_tables(service_metadata: MetaData) -> None:
    """Adds the shared tables to a service's schema (the inbox stays a consumer's own)."""
    for table in metadata.tables.values():
        table.to_metadata(service_metadata)
