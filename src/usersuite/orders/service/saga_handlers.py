"""The saga's use cases: billing's replies and the deadlines, each in one transaction."""

import logging
from collections.abc import Callable
from datetime import datetime

from usersuite.orders.domain import saga
from usersuite.orders.domain.messages import CreditReply
from usersuite.orders.domain.order import Order, OrderState
from usersuite.orders.domain.retry import RetryPolicy
from usersuite.orders.domain.saga import Saga, SagaEvent, Transition
from usersuite.orders.service.observer import NoObserver, SagaObserver
from usersuite.orders.service.outbox_messages import Messages
from usersuite.orders.service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class SagaHandlers:
    """Moves sagas on; `on_reply` works inside the caller's transaction (the consumer's)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        policy: RetryPolicy,
        *,
        clock: Callable[[], datetime],
        uuid_factory: Callable[[], str],
        observer: SagaObserver | None = None,
        scan_batch_size: int = 100,
    ) -> None:
        self._uow = uow_factory
        self._policy = policy
        self._clock = clock
        self._new_uuid = uuid_factory
        self._messages = Messages(uuid_factory)
        self._observer: SagaObserver = observer or NoObserver()
        # The overdue count is a query per scan: made only when someone observes it.
        self._counts_overdue = observer is not None
        self._batch = scan_batch_size

    async def on_reply(self, uow: UnitOfWork, reply: CreditReply) -> bool:
        """Applies billing's reply in `uow`'s transaction; False when it was stale or unknown."""
        current = await uow.sagas.get(reply.saga_id, for_update=True)
        if current is None:
            log.warning("reply %s for unknown saga %s of %s ignored",
                        type(reply).__name__, reply.saga_id, reply.order)  # fmt: skip
            return False
        order = await _order_of(uow, current)
        now = self._clock()
        sent_at = _last_sent(current)
        moved = saga.on_reply(current, order, reply, now=now)
        if not moved.applied:
            log.info("stale reply %s (command %s) for saga %s of %s ignored", type(reply).__name__,
                     reply.command_id, current.saga_id, current.order)  # fmt: skip
            return False
        await self._store(uow, current, order, moved, now)
        if sent_at is not None:
            self._observer.step_replied(current.step, (now - sent_at).total_seconds())
        log.info("saga %s of %s: %s answered %s", current.saga_id, current.order,
                 current.step.value, type(reply).__name__)  # fmt: skip
        return True

    async def scan_deadlines(self) -> int:
        """Applies on_deadline to the overdue sagas (one batch, one transaction); how many moved."""
        moved_count = 0
        async with self._uow() as uow:
            now = self._clock()
            for due in await uow.sagas.claim_due(now, self._batch):
                order = await _order_of(uow, due)
                moved = saga.on_deadline(
                    due, order, now=now, policy=self._policy, new_command_id=self._new_uuid
                )
                if not moved.applied:
                    continue
                await self._store(uow, due, order, moved, now)
                moved_count += 1
                last = moved.saga.timeline[-1]
                log.warning("saga %s of %s: no reply to %s by its deadline; %s (attempt %d)",
                            due.saga_id, due.order, due.step.value, last.event.value,
                            moved.saga.attempt)  # fmt: skip
                if moved.order_change is OrderState.REJECTED:  # it gave up: compensation
                    self._observer.compensated()
            overdue = await uow.sagas.count_overdue(now) if self._counts_overdue else None
            await uow.commit()
        if overdue is not None:
            self._observer.overdue(overdue)
        return moved_count

    async def _store(
        self, uow: UnitOfWork, before: Saga, order: Order, moved: Transition, now: datetime
    ) -> None:
        await uow.sagas.save(moved.saga)
        changed = moved.order is not order
        if changed and not await uow.orders.update(moved.order, expected_version=order.version):
            raise RuntimeError(f"{order.name} changed under its locked saga {before.saga_id}")
        await self._messages.write(uow.outbox, moved, now)
        if moved.order_change is not None and moved.order_change is not OrderState.CANCELLED:
            self._observer.order_changed(moved.order.state, moved.order.rejection_reason)


async def _order_of(uow: UnitOfWork, current: Saga) -> Order:
    order_id = current.order.removeprefix("orders/")
    order = await uow.orders.get(order_id, for_update=True)
    if order is None:
        raise RuntimeError(f"saga {current.saga_id} names {current.order}, which does not exist")
    return order


def _last_sent(current: Saga) -> datetime | None:
    """When the current command was last sent: the step latency runs from there."""
    for entry in reversed(current.timeline):
        if entry.event in (SagaEvent.SENT, SagaEvent.RESENT):
            return entry.at
    return None
