"""Billing's schema (its tables, the shared ones, the inbox); its migrations create exactly it."""

from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table

from usersuite.platform.db.tables import NAMING_CONVENTION, add_platform_tables, inbox

metadata = MetaData(naming_convention=NAMING_CONVENTION)
add_platform_tables(metadata)
# Billing consumes events and saga commands: its inbox lives in its own database.
inbox.to_metadata(metadata)

accounts = Table(
    "accounts",
    metadata,
    Column("user_id", String(63), primary_key=True),
    Column("currency_code", String(3), nullable=False),
    Column("credit_limit_minor", BigInteger, nullable=False),
    # The sum of the account's ACTIVE reservations, kept with them in one transaction.
    Column("reserved_minor", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
)

# One row per order billing has decided anything for; kept after release (and as a tombstone
# when the release came first) so that late or repeated commands get the same answer.
reservations = Table(
    "reservations",
    metadata,
    Column("order_name", String(100), primary_key=True),
    Column("user_id", String(63), nullable=True),
    Column("state", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("reserve_command_id", String(64), nullable=True),
    Column("refusal", String(32), nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
)
