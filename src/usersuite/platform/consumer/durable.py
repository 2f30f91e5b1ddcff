"""A consumer's settings as the durable pull consumer nats-py asks JetStream for."""

from nats.js.api import AckPolicy, ConsumerConfig

from usersuite.platform.config.consumer import ConsumerSettings


def durable_config(settings: ConsumerSettings) -> ConsumerConfig:
    """Explicit acks; `ack_wait` as configured. The retry schedule is not the server's
    `backoff` (it would replace `ack_wait` by its first value): the consumer naks with it."""
    return ConsumerConfig(
        name=settings.durable,
        durable_name=settings.durable,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_seconds,
        # Deliveries are counted by the consumer, not limited by the server: a message whose
        # dead letter could not be published keeps coming back until it is dead-lettered.
        max_deliver=-1,
        filter_subject=None if settings.filter_subjects else settings.filter_subject,
        filter_subjects=list(settings.filter_subjects) or None,
    )
