"""Settings of a downstream consumer: its durable, retry and dead-letter policy."""

from typing import Self

from pydantic import BaseModel, Field, model_validator

from usersuite.platform.config.groups import (
    EVENT_STREAM,
    EVENT_SUBJECTS,
    STREAM_SUBJECTS,
    StreamSettings,
)

DEAD_LETTER_PREFIX = "dlq."
DEAD_LETTER_RETENTION_SECONDS = 30 * 24 * 3600.0


def _dead_letter_stream() -> StreamSettings:
    return StreamSettings(
        name=f"{EVENT_STREAM}_DLQ",
        subjects=tuple(DEAD_LETTER_PREFIX + subject for subject in STREAM_SUBJECTS),
        max_age_seconds=DEAD_LETTER_RETENTION_SECONDS,
    )


class ConsumerSettings(BaseModel):
    """A durable pull consumer on the event stream, with its retry and dead-letter policy.

    `backoff_seconds` is the nak delay after the 1st, 2nd, ... failed delivery (the last value
    repeats). It is not given to the server as the consumer's `backoff`, because the server
    then replaces `ack_wait` by its first value; `ack_wait_seconds` is how long a delivery may
    go unacknowledged (a crashed consumer) before JetStream redelivers it, and long handlers
    keep their message with in-progress acks.
    """

    model_config = {"frozen": True, "extra": "forbid"}

    durable: str
    # The stream the bridge fills: the `stream.name` of the service's settings.
    stream: str = EVENT_STREAM
    filter_subject: str = EVENT_SUBJECTS
    # Several subjects (a service consuming events and saga messages): replaces filter_subject.
    filter_subjects: tuple[str, ...] = ()
    max_deliver: int = 5
    ack_wait_seconds: float = 30.0
    backoff_seconds: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    batch_size: int = 10
    fetch_timeout_seconds: float = 1.0
    publish_timeout_seconds: float = 5.0
    dead_letter: StreamSettings = Field(default_factory=_dead_letter_stream)
    dead_letter_prefix: str = DEAD_LETTER_PREFIX
    # Longer than any redelivery or replay you expect: an event older than this is no longer
    # recognised as seen. Purged every interval in batches, each its own short transaction.
    inbox_retention_hours: float = 7 * 24.0
    inbox_purge_interval_seconds: float = 600.0
    inbox_purge_batch_size: int = 1000

    @classmethod
    def on(cls, stream: StreamSettings, durable: str, **values: object) -> "ConsumerSettings":
        """A consumer of the stream described by the service's own stream settings."""
        return cls.model_validate({"durable": durable, "stream": stream.name, **values})

    @model_validator(mode="after")
    def _sensible(self) -> Self:
        # Own messages rather than field constraints: they name the policy being refused.
        if self.max_deliver < 1:
            raise ValueError("max_deliver must be at least 1")
        if not self.backoff_seconds or min(self.backoff_seconds) <= 0:
            raise ValueError("backoff_seconds needs at least one positive delay")
        if self.ack_wait_seconds <= 0 or self.fetch_timeout_seconds <= 0:
            raise ValueError("ack_wait_seconds and fetch_timeout_seconds must be positive")
        if self.batch_size < 1 or self.inbox_purge_batch_size < 1:
            raise ValueError("batch_size and inbox_purge_batch_size must be at least 1")
        if self.inbox_retention_hours <= 0 or self.inbox_purge_interval_seconds <= 0:
            raise ValueError("inbox_retention_hours and its purge interval must be positive")
        return self

    def nak_delay(self, deliveries: int) -> float:
        """The delay before the next delivery after delivery number `deliveries` failed."""
        return self.backoff_seconds[min(deliveries, len(self.backoff_seconds)) - 1]
