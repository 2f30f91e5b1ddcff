"""The orders use cases: one handler per command, each one unit of work (one transaction)."""

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ulid import ULID

from usersuite.orders.domain import saga
from usersuite.orders.domain.errors import (
    EtagMismatch,
    FieldViolation,
    InvalidValue,
    OrderNotFound,
    RequestIdReused,
    ValidationFailed,
)
from usersuite.orders.domain.events import OrderChange, OrderEvent
from usersuite.orders.domain.order import LineItem, Order
from usersuite.orders.domain.retry import RetryPolicy
from usersuite.orders.service import commands
from usersuite.orders.service.observer import NoObserver, SagaObserver
from usersuite.orders.service.outbox_messages import Messages
from usersuite.orders.service.unit_of_work import UnitOfWork
from usersuite.orders.service.validation import check_currency, check_line_items, check_user_name
from usersuite.platform.domain.events import new_uuid, utc_now
from usersuite.platform.domain.resource_ids import check_resource_id
from usersuite.platform.service.page_tokens import PageTokenCodec
from usersuite.platform.service.validation import Violations, canonical_request_id

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def new_id() -> str:
    """A sortable id: a lower-case ULID (starts with a digit, unlike client-chosen ids)."""
    return str(ULID()).lower()


@dataclass(frozen=True)
class ListPage:
    orders: list[Order]
    next_page_token: str


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


class OrderHandlers:
    """Every order use case, over a unit-of-work factory and injectable clock and ids."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        page_tokens: PageTokenCodec,
        policy: RetryPolicy,
        *,
        clock: Callable[[], datetime] = utc_now,
        id_factory: Callable[[], str] = new_id,
        uuid_factory: Callable[[], str] = new_uuid,
        observer: SagaObserver | None = None,
        read_uow_factory: Callable[[], UnitOfWork] | None = None,
    ) -> None:
        self._uow = uow_factory
        self._read_uow = read_uow_factory or uow_factory
        self._tokens = page_tokens
        self._policy = policy
        self._clock = clock
        self._new_id = id_factory
        self._new_uuid = uuid_factory
        self._messages = Messages(uuid_factory)
        self._observer: SagaObserver = observer or NoObserver()

    async def create_order(self, cmd: commands.CreateOrder) -> Order:
        violations = Violations()
        user_id = check_user_name(cmd.user, "order.user", violations)
        items = check_line_items(cmd.line_items, violations)
        currency = check_currency(cmd.currency_code, violations)
        if cmd.order_id:
            violations.check(
                "order_id", lambda: check_resource_id(cmd.order_id, allow_generated=False)
            )
        request_id = canonical_request_id(cmd.request_id, violations)
        violations.raise_if_any()
        fingerprint = _fingerprint("create", cmd.order_id, user_id, items, currency)
        async with self._uow() as uow:
            if request_id:
                earlier = await uow.idempotency.claim(request_id, fingerprint)
                if earlier is not None:
                    if earlier.fingerprint != fingerprint:
                        raise RequestIdReused(request_id)
                    return earlier.order
            now = self._clock()
            order = _placed(cmd.order_id or self._new_id(), user_id, items, currency, now)
            started = saga.start(
                order, saga_id=self._new_uuid(), command_id=self._new_uuid(), now=now,
                policy=self._policy,
            )  # fmt: skip
            await uow.orders.add(order)
            await uow.sagas.add(started.saga)
            meta = self._messages.metadata(order, now, cmd.principal)
            await uow.outbox.append(OrderEvent(meta, OrderChange.CREATED, order))
            await self._messages.write(uow.outbox, started, now, cmd.principal)
            if request_id:
                await uow.idempotency.complete(request_id, order)
            await uow.commit()
        self._observer.started(started.saga.kind)
        log.info("order %s created; saga %s reserves %d %s", order.name,
                 started.saga.saga_id, order.total_minor, order.currency_code)  # fmt: skip
        return order

    async def get_order(self, cmd: commands.GetOrder) -> Order:
        async with self._read_uow() as uow:
            order = await uow.orders.get(cmd.order_id)
        if order is None:
            raise OrderNotFound(cmd.order_id)
        return order

    async def list_orders(self, cmd: commands.ListOrders) -> ListPage:
        violations = Violations()
        if cmd.page_size < 0:
            violations.add("page_size", "page_size must not be negative")
        user_id = check_user_name(cmd.user, "user", violations) if cmd.user else ""
        violations.raise_if_any()
        limit = min(cmd.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        fingerprint = f"page_size={cmd.page_size};user={cmd.user}"
        cursor = self._tokens.decode(cmd.page_token, fingerprint) if cmd.page_token else 0
        async with self._read_uow() as uow:
            rows = await uow.orders.list_after(cursor, limit + 1, user_id)
        page = rows[:limit]
        next_token = self._tokens.encode(page[-1][0], fingerprint) if len(rows) > limit else ""
        return ListPage(orders=[order for _, order in page], next_page_token=next_token)

    async def cancel_order(self, cmd: commands.CancelOrder) -> Order:
        violations = Violations()
        request_id = canonical_request_id(cmd.request_id, violations)
        violations.raise_if_any()
        fingerprint = _fingerprint("cancel", cmd.order_id, cmd.etag)
        async with self._uow() as uow:
            if request_id:
                earlier = await uow.idempotency.claim(request_id, fingerprint)
                if earlier is not None:
                    if earlier.fingerprint != fingerprint:
                        raise RequestIdReused(request_id)
                    return earlier.order
            order = await uow.orders.get(cmd.order_id, for_update=True)
            if order is None:
                raise OrderNotFound(cmd.order_id)
            if cmd.etag and cmd.etag != order.etag:
                raise EtagMismatch(cmd.order_id)
            now = self._clock()
            cancelling = saga.cancel(
                order, saga_id=self._new_uuid(), command_id=self._new_uuid(), now=now,
                policy=self._policy,
            )  # fmt: skip
            if not await uow.orders.update(cancelling.order, expected_version=order.version):
                raise EtagMismatch(cmd.order_id)
            await uow.sagas.add(cancelling.saga)
            await self._messages.write(uow.outbox, cancelling, now, cmd.principal)
            if request_id:
                await uow.idempotency.complete(request_id, cancelling.order)
            await uow.commit()
        self._observer.started(cancelling.saga.kind)
        self._observer.order_changed(cancelling.order.state, None)
        log.info("order %s cancelled; saga %s releases its credit", order.name,
                 cancelling.saga.saga_id)  # fmt: skip
        return cancelling.order


def _placed(
    order_id: str, user_id: str, items: tuple[LineItem, ...], currency: str, now: datetime
) -> Order:
    """The new order; a total beyond int64 is the one check only the whole order can make."""
    try:
        return Order.place(
            order_id, user_id=user_id, line_items=items, currency_code=currency, now=now
        )
    except InvalidValue as exc:
        field = f"order.{exc.field}" if exc.field else "order"
        raise ValidationFailed([FieldViolation(field, f"{field} {exc}")]) from None
