"""The orders service's composition root: its API, its reply consumer and its deadline scanner."""

from collections.abc import Callable
from datetime import datetime, timedelta

from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.bootstrap import (
    Observability,
    api_container,
    database_engine,
    request_id_janitor,
)
from usersuite.orders.adapters.db.unit_of_work import SqlUnitOfWork
from usersuite.orders.adapters.deadlines import DeadlineScanner
from usersuite.orders.adapters.metrics import PrometheusSagaObserver
from usersuite.orders.api.binding import order_service
from usersuite.orders.api.mapping import REPLY_SUBJECTS, encode_message
from usersuite.orders.api.replies import reply_handler
from usersuite.orders.domain.order import Order
from usersuite.orders.domain.retry import RetryPolicy
from usersuite.orders.domain.saga import Saga
from usersuite.orders.service.handlers import OrderHandlers
from usersuite.orders.service.observer import SagaObserver
from usersuite.orders.service.saga_handlers import SagaHandlers
from usersuite.platform.config import Settings, required
from usersuite.platform.config.consumer import ConsumerSettings
from usersuite.platform.config.groups import OrdersSettings
from usersuite.platform.consumer import ConsumerMetrics, ConsumerWorker
from usersuite.platform.domain.events import new_uuid, utc_now
from usersuite.platform.grpc.container import Container
from usersuite.platform.service.page_tokens import PageTokenCodec

OrdersContainer = Container[OrderHandlers]
# The durable consumer of billing's replies; its inbox rows live in orders' database.
REPLY_CONSUMER = "orders"


def retry_policy(orders: OrdersSettings) -> RetryPolicy:
    return RetryPolicy(
        first_wait=timedelta(seconds=orders.step_timeout_seconds),
        multiplier=orders.backoff_multiplier,
        max_wait=timedelta(seconds=orders.max_wait_seconds),
        reserve_attempts=orders.max_attempts,
        release_attempts=orders.release_attempts,
    )


def reply_consumer_settings(settings: Settings) -> ConsumerSettings:
    return ConsumerSettings.on(settings.stream, REPLY_CONSUMER, filter_subjects=REPLY_SUBJECTS)


def bootstrap_orders(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    tracer_provider: TracerProvider | None = None,
) -> OrdersContainer:
    """Builds every dependency of `usersuite serve orders` (which needs NATS for the saga)."""
    settings.check_api_security()
    page_token_secret = required(settings.page_token_secret, "page_token_secret")
    nats_url = required(settings.nats_url, "nats_url")
    engine = database_engine(settings)
    observing = Observability.of(settings, engine, tracer_provider)
    registry = observing.registry
    consumer_metrics = None
    observer: SagaObserver | None = None
    if settings.telemetry.metrics:
        consumer_metrics = ConsumerMetrics(registry)
        observer = PrometheusSagaObserver(registry)
    policy = retry_policy(settings.orders)
    handlers = OrderHandlers(
        lambda: SqlUnitOfWork(engine, encode_message, clock),
        PageTokenCodec(page_token_secret.get_secret_value().encode()),
        policy,
        clock=clock,
        observer=observer,
        read_uow_factory=lambda: SqlUnitOfWork(engine, encode_message, clock, read_only=True),
    )
    sagas = SagaHandlers(
        lambda: SqlUnitOfWork(engine, encode_message, clock),
        policy,
        clock=clock,
        uuid_factory=new_uuid,
        observer=observer,
        scan_batch_size=settings.orders.scan_batch_size,
    )

    def joined(conn: AsyncConnection) -> SqlUnitOfWork:
        return SqlUnitOfWork.joined(conn, encode_message, clock)

    replies = ConsumerWorker(
        nats_url,
        engine,
        reply_handler(sagas, joined),
        reply_consumer_settings(settings),
        tracer_provider=observing.tracer_provider,
        metrics=consumer_metrics,
    )
    deadlines = DeadlineScanner(
        sagas, settings.orders.scan_interval_seconds, settings.orders.scan_batch_size
    )
    janitor = request_id_janitor(settings, engine, clock)
    service = order_service(handlers)
    return api_container(
        settings, engine, observing, service, handlers,
        janitor=janitor, background=(replies, deadlines),
    )  # fmt: skip


async def order_sagas(settings: Settings, order_id: str) -> tuple[Order | None, list[Saga]]:
    """`usersuite saga show`: an order and its sagas, read once from orders' database."""
    engine = database_engine(settings, pool_size=1)
    try:
        async with SqlUnitOfWork(engine, encode_message, utc_now, read_only=True) as uow:
            order = await uow.orders.get(order_id)
            sagas = await uow.sagas.of_order(f"orders/{order_id}")
    finally:
        await engine.dispose()
    return order, sagas
