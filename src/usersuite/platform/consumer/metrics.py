"""Prometheus metrics of the consumer SDK: one set per registry, labelled by consumer."""

from prometheus_client import CollectorRegistry, Counter


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.dead_letters = Counter(
            "usersuite_consumer_dead_letters_total",
            "Messages moved to the dead-letter stream",
            ["consumer"],
            registry=registry,
        )
