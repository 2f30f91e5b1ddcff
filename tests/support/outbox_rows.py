"""Outbox rows as the relay reads them, for unit tests of its publishing rules."""

from datetime import UTC, datetime

from usersuite.platform.service.outbox import OutboxRow


def outbox_row(seq: int, user: str) -> OutboxRow:
    """Event `e<seq>` of aggregate `user` (its version is its seq)."""
    return OutboxRow(
        seq=seq, event_id=f"e{seq}", event_type="user.v1.UserUpdated",
        aggregate_name=user, aggregate_version=seq, payload=b"x", trace_context={},
        principal="", occurred_time=datetime(2026, 1, 1, tzinfo=UTC), attempts=0,
    )  # fmt: skip
