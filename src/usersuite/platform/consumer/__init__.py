"""The SDK for downstream subscribers: an idempotent consumer (inbox dedup, DLQ) and `events tail`.

It never loads the relay: a subscriber needs only this package, the config and the adapters.
"""

from usersuite.platform.config.consumer import ConsumerSettings
from usersuite.platform.consumer.consumer import Consumer, Handler
from usersuite.platform.consumer.dead_letter import (
    DLQ_CONSUMER,
    DLQ_DELIVERIES,
    DLQ_REASON,
    DLQ_STREAM,
    DLQ_STREAM_SEQ,
    DLQ_SUBJECT,
    DLQ_TIME,
    MAX_REASON_LENGTH,
)
from usersuite.platform.consumer.events import Event, UndecodableEvent
from usersuite.platform.consumer.metrics import ConsumerMetrics
from usersuite.platform.consumer.outcome import Outcome
from usersuite.platform.consumer.worker import ConsumerWorker
from usersuite.platform.db.inbox import create_inbox
from usersuite.platform.db.tables import inbox, inbox_metadata

__all__ = [
    "DLQ_CONSUMER",
    "DLQ_DELIVERIES",
    "DLQ_REASON",
    "DLQ_STREAM",
    "DLQ_STREAM_SEQ",
    "DLQ_SUBJECT",
    "DLQ_TIME",
    "MAX_REASON_LENGTH",
    "Consumer",
    "ConsumerMetrics",
    "ConsumerSettings",
    "ConsumerWorker",
    "Event",
    "Handler",
    "Outcome",
    "UndecodableEvent",
    "create_inbox",
    "inbox",
    "inbox_metadata",
]
