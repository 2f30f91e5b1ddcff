"""Dead letters: a message that cannot be handled goes to the dead-letter stream, with why.

JetStream has no dead-letter queue of its own: `max_deliver` exhaustion only emits an advisory.
"""

import logging
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from usersuite.platform.config.consumer import ConsumerSettings
from usersuite.platform.consumer.metrics import ConsumerMetrics
from usersuite.platform.consumer.outcome import Outcome
from usersuite.platform.ops.errors import describe

log = logging.getLogger(__name__)

# Headers a dead-lettered message carries besides its original ones.
DLQ_REASON = "usersuite-dlq-reason"
DLQ_CONSUMER = "usersuite-dlq-consumer"
DLQ_DELIVERIES = "usersuite-dlq-deliveries"
DLQ_STREAM = "usersuite-dlq-stream"
DLQ_STREAM_SEQ = "usersuite-dlq-stream-seq"
DLQ_SUBJECT = "usersuite-dlq-subject"
DLQ_TIME = "usersuite-dlq-time"
MAX_REASON_LENGTH = 1000


def header_value(text: str) -> str:
    """One line (headers cannot hold CR/LF), at most MAX_REASON_LENGTH characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_REASON_LENGTH else flat[: MAX_REASON_LENGTH - 3] + "..."


class DeadLetters:
    def __init__(
        self, js: JetStreamContext, settings: ConsumerSettings, metrics: ConsumerMetrics | None
    ) -> None:
        self._js = js
        self._settings = settings
        self._metrics = metrics

    async def send(self, msg: Msg, reason: str) -> Outcome:
        """Republishes to the dead-letter stream with the failure in headers, then terminates."""
        meta = msg.metadata
        original = dict(msg.headers or {})
        headers = {
            **original,
            # One dead letter per consumer and stream message, even if this is retried.
            "Nats-Msg-Id": f"{self._settings.durable}:{meta.stream}:{meta.sequence.stream}",
            DLQ_REASON: header_value(reason),
            DLQ_CONSUMER: self._settings.durable,
            DLQ_DELIVERIES: str(meta.num_delivered),
            DLQ_STREAM: meta.stream,
            DLQ_STREAM_SEQ: str(meta.sequence.stream),
            DLQ_SUBJECT: msg.subject,
            DLQ_TIME: datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        try:
            await self._js.publish(
                self._settings.dead_letter_prefix + msg.subject,
                msg.data,
                timeout=self._settings.publish_timeout_seconds,
                stream=self._settings.dead_letter.name,
                headers=headers,
            )
        except NatsError as exc:
            # The consumer redelivers without limit, so the message comes back (with the last
            # backoff delay) until the dead-letter stream takes it: retried, never stranded.
            delay = self._settings.nak_delay(meta.num_delivered)
            log.error(
                "consumer %s: could not dead-letter stream message %s (delivery %s), "
                "retrying in %ss: %s",
                self._settings.durable, meta.sequence.stream, meta.num_delivered, delay,
                describe(exc),
            )  # fmt: skip
            await msg.nak(delay=delay)
            return Outcome.RETRY
        if self._metrics is not None:
            self._metrics.dead_letters.labels(self._settings.durable).inc()
        log.error(
            "consumer %s: stream message %s dead-lettered after %s deliveries: %s",
            self._settings.durable, meta.sequence.stream, meta.num_delivered, reason,
        )  # fmt: skip
        await msg.term()
        return Outcome.DEAD_LETTERED
