"""What the saga reports as it runs (metrics); bootstrap plugs in Prometheus, tests a fake."""

from typing import Protocol

from usersuite.orders.domain.order import OrderState, RejectionReason
from usersuite.orders.domain.saga import SagaKind, SagaStep


class SagaObserver(Protocol):
    def started(self, kind: SagaKind) -> None: ...

    def order_changed(self, state: OrderState, reason: RejectionReason | None) -> None: ...

    def compensated(self) -> None: ...

    def step_replied(self, step: SagaStep, seconds: float) -> None: ...

    def overdue(self, count: int) -> None: ...


class NoObserver:
    """Reports nothing (metrics off)."""

    def started(self, kind: SagaKind) -> None:
        pass

    def order_changed(self, state: OrderState, reason: RejectionReason | None) -> None:
        pass

    def compensated(self) -> None:
        pass

    def step_replied(self, step: SagaStep, seconds: float) -> None:
        pass

    def overdue(self, count: int) -> None:
        pass
