"""The saga's Prometheus metrics, on the API process's registry."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from usersuite.orders.domain.order import OrderState, RejectionReason
from usersuite.orders.domain.saga import SagaKind, SagaStep

STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class PrometheusSagaObserver:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._started = Counter(
            "usersuite_orders_sagas_started_total", "Sagas started, by kind (CREATE, CANCEL)",
            ["kind"], registry=registry,
        )  # fmt: skip
        self._approved = Counter(
            "usersuite_orders_approved_total", "Orders approved by the saga", registry=registry
        )
        self._rejected = Counter(
            "usersuite_orders_rejected_total", "Orders rejected, by reason", ["reason"],
            registry=registry,
        )  # fmt: skip
        self._compensated = Counter(
            "usersuite_orders_sagas_compensated_total",
            "Sagas that gave up on billing and released the credit", registry=registry,
        )  # fmt: skip
        self._step_seconds = Histogram(
            "usersuite_orders_saga_step_seconds",
            "From a step's (last) send to billing's reply, by step", ["step"],
            buckets=STEP_BUCKETS, registry=registry,
        )  # fmt: skip
        self._overdue = Gauge(
            "usersuite_orders_sagas_overdue",
            "Sagas still waiting after their deadline (parked ones included)", registry=registry,
        )  # fmt: skip

    def started(self, kind: SagaKind) -> None:
        self._started.labels(kind.value).inc()

    def order_changed(self, state: OrderState, reason: RejectionReason | None) -> None:
        if state is OrderState.APPROVED:
            self._approved.inc()
        elif state is OrderState.REJECTED and reason is not None:
            self._rejected.labels(reason.value).inc()

    def compensated(self) -> None:
        self._compensated.inc()

    def step_replied(self, step: SagaStep, seconds: float) -> None:
        self._step_seconds.labels(step.value).observe(max(seconds, 0.0))

    def overdue(self, count: int) -> None:
        self._overdue.set(count)
