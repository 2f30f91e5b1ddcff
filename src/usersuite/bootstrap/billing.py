"""The billing service's composition root: its API process and the consumer it runs beside it."""

from collections.abc import Callable
from datetime import datetime

from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.billing.adapters.db.unit_of_work import SqlUnitOfWork
from usersuite.billing.api.binding import billing_service
from usersuite.billing.api.inbound import SUBJECTS, InboundMessages
from usersuite.billing.api.mapping import encode_message
from usersuite.billing.service.credit import CreditHandlers
from usersuite.billing.service.handlers import AccountHandlers
from usersuite.bootstrap import (
    Observability,
    api_container,
    database_engine,
)
from usersuite.platform.config import ConsumerSettings, Settings, required
from usersuite.platform.consumer import ConsumerMetrics, ConsumerWorker
from usersuite.platform.domain.events import utc_now
from usersuite.platform.grpc.container import Container

# The durable consumer of the billing service (one per deployment; replicas share it).
DURABLE = "billing"

BillingContainer = Container[AccountHandlers]


def consumer_settings(settings: Settings) -> ConsumerSettings:
    return ConsumerSettings.on(settings.stream, DURABLE, filter_subjects=SUBJECTS)


def credit_handlers(settings: Settings, clock: Callable[[], datetime] = utc_now) -> CreditHandlers:
    return CreditHandlers(
        default_credit_limit_minor=settings.billing.default_credit_limit_minor,
        default_currency_code=settings.billing.default_currency_code,
        clock=clock,
    )


def inbound_messages(handlers: CreditHandlers) -> InboundMessages:
    """The consumer's handler: each message's use case joins the consumer's transaction."""

    def joined(conn: AsyncConnection) -> SqlUnitOfWork:
        return SqlUnitOfWork.joined(conn, encode_message)

    return InboundMessages(handlers, joined)


def bootstrap_billing(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    tracer_provider: TracerProvider | None = None,
    consumer: ConsumerSettings | None = None,
) -> BillingContainer:
    """Builds the API and its consumer; tests pass quicker consumer settings and a provider."""
    settings.check_api_security()
    nats_url = required(settings.nats_url, "nats_url")
    engine = database_engine(settings)
    handlers = AccountHandlers(
        lambda: SqlUnitOfWork(engine, encode_message),
        clock=clock,
        read_uow_factory=lambda: SqlUnitOfWork(engine, encode_message, read_only=True),
    )
    observing = Observability.of(settings, engine, tracer_provider)
    worker = ConsumerWorker(
        nats_url,
        engine,
        inbound_messages(credit_handlers(settings, clock)),
        consumer or consumer_settings(settings),
        tracer_provider=observing.tracer_provider,
        metrics=ConsumerMetrics(observing.registry) if settings.telemetry.metrics else None,
    )
    # Billing takes no request ids: no janitor for an always-empty table.
    service = billing_service(handlers)
    return api_container(
        settings, engine, observing, service, handlers, janitor=None, background=(worker,)
    )
