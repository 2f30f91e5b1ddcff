"""Prometheus metrics of the relay."""

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache, partial

from prometheus_client import CollectorRegistry, Counter, Gauge

from usersuite.platform.ops.loop_metrics import LoopHistogram
from usersuite.platform.service.outbox import OutboxRow

# The freshness SLO counts events acknowledged within 5 s of their commit: 5.0 must be a bound.
FRESHNESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        gauge = partial(Gauge, registry=registry)
        counter = partial(Counter, registry=registry)
        self.backlog = gauge("usersuite_outbox_backlog", "Outbox rows waiting to be published")
        self.oldest_pending_age = gauge(
            "usersuite_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox row waiting to be published",
        )
        self.parked = gauge("usersuite_outbox_parked", "Outbox rows parked after failing")
        self.published_total = counter(
            "usersuite_outbox_published_total",
            "Events published and acknowledged by JetStream",
            ["event_type"],
        )
        self.duplicates = counter(
            "usersuite_outbox_duplicates_total",
            "Publishes JetStream acknowledged as duplicates (already stored)",
        )
        self.failures = counter(
            "usersuite_outbox_publish_failures_total", "Failed publish attempts", ["kind"]
        )
        # Two observations an event: histograms without a lock an observation (the relay's
        # metrics are observed on its event loop only).
        self.publish_seconds = LoopHistogram(
            "usersuite_outbox_publish_seconds",
            "Time from publish to JetStream acknowledgement",
            registry,
        )
        self.commit_to_ack_seconds = LoopHistogram(
            "usersuite_outbox_commit_to_ack_seconds",
            "Time from an event's commit (its occurred_time) to its JetStream acknowledgement",
            registry,
            buckets=FRESHNESS_BUCKETS,
        )
        self.leader = gauge(
            "usersuite_bridge_leader", "1 while this bridge relays at least one outbox partition"
        )
        self.partitions = gauge(
            "usersuite_bridge_partitions",
            "Outbox partitions this bridge relays (holds the lock of)",
        )
        # A labelled child is looked up under a lock; the relay asks for one per event.
        self._published = lru_cache(maxsize=256)(self.published_total.labels)

    def published(self, event_type: str, seconds: float, duplicate: bool) -> None:
        self.publish_seconds.observe(seconds)
        self._published(event_type).inc()
        if duplicate:
            self.duplicates.inc()

    def failed(self, kind: str) -> None:
        self.failures.labels(kind).inc()

    def acknowledged(self, rows: Sequence[OutboxRow], acked: Sequence[int], now: datetime) -> None:
        """Observes how long each acknowledged row of a batch waited since its commit."""
        seqs = set(acked)
        observe = self.commit_to_ack_seconds.observe
        for row in rows:
            if row.seq in seqs:
                observe((now - row.occurred_time).total_seconds())
