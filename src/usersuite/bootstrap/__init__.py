"""The composition root: the one place that builds engines and wires concrete classes."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO, TypeVar

from nats.aio.client import Client as NatsClient
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.config import Settings, required
from usersuite.platform.consumer.tail import tail
from usersuite.platform.db import outbox_store
from usersuite.platform.db.engine import create_engine
from usersuite.platform.db.group_commit import GroupCommit
from usersuite.platform.db.maintenance import RequestIdJanitor
from usersuite.platform.db.nonces import SqlNonceStore
from usersuite.platform.db.pool_metrics import register_pool_metrics
from usersuite.platform.domain.events import utc_now
from usersuite.platform.grpc.auth.authenticator import Authenticator
from usersuite.platform.grpc.auth.jwks import JwksMetrics, JwksPolicy, JwksSource
from usersuite.platform.grpc.auth.jwt import JwtVerifier
from usersuite.platform.grpc.auth.signing import NonceStore, SignatureVerifier
from usersuite.platform.grpc.auth.token_cache import CachedJwtVerifier
from usersuite.platform.grpc.binding import ServiceBinding
from usersuite.platform.grpc.container import Closable, Container
from usersuite.platform.grpc.interceptors.observability import GrpcMetrics
from usersuite.platform.grpc.tls_metrics import register_certificate_metrics
from usersuite.platform.nats.jetstream import connect, ensure_stream
from usersuite.platform.ops.background import Housekeeper
from usersuite.platform.ops.tracing import configure_tracing, instrument_engine
from usersuite.platform.relay.container import BridgeContainer
from usersuite.platform.relay.metrics import RelayMetrics
from usersuite.platform.relay.relay import Relay
from usersuite.platform.service.page_tokens import PageTokenCodec
from usersuite.users.adapters.db.reads import SqlUserReads
from usersuite.users.adapters.db.unit_of_work import SqlUnitOfWork
from usersuite.users.api.binding import user_service
from usersuite.users.api.mapping import encode_event
from usersuite.users.service.handlers import UserHandlers

# A service's use cases, as its API process holds them.
H = TypeVar("H")

# The users service's API process, as its composition root builds it.
UsersContainer = Container[UserHandlers]

# Expired request ids only cost disk space: forgetting them every ten minutes is plenty.
REQUEST_ID_PURGE_INTERVAL_SECONDS = 600.0


def build_authenticator(
    settings: Settings,
    registry: CollectorRegistry,
    nonces: NonceStore | None = None,
    method_scopes: Mapping[str, str] | None = None,
) -> Authenticator | None:
    """None when authentication is explicitly disabled; `nonces` are shared by every replica;
    `method_scopes` are the served service's."""
    auth = settings.auth
    if not auth.enabled:
        return None
    jwks = None
    if auth.jwks_file is not None or auth.jwks_url is not None:
        policy = JwksPolicy(
            refresh_seconds=auth.jwks_cache_seconds,
            min_refresh_seconds=auth.jwks_min_refresh_seconds,
            max_stale_seconds=auth.jwks_max_stale_seconds,
            fetch_timeout_seconds=auth.jwks_fetch_timeout_seconds,
            max_bytes=auth.jwks_max_bytes,
            ca_file=auth.jwks_ca_file,
        )
        jwks = JwksSource(
            file=auth.jwks_file, url=auth.jwks_url, policy=policy, metrics=JwksMetrics(registry)
        )
    hs256 = auth.hs256_secret.get_secret_value().encode() if auth.hs256_secret else None
    verifier = None
    if hs256 is not None or jwks is not None:
        verifier = JwtVerifier(
            issuer=auth.issuer,
            audience=auth.audience,
            leeway_seconds=auth.leeway_seconds,
            hs256_secret=hs256,
            jwks=jwks,
        )
        if auth.token_cache_size:
            verifier = CachedJwtVerifier(
                verifier,
                max_entries=auth.token_cache_size,
                max_age_seconds=auth.token_cache_seconds,
            )
    signatures = None
    if auth.signing_keys:
        signatures = SignatureVerifier(
            {kid: secret.get_secret_value().encode() for kid, secret in auth.signing_keys.items()},
            scopes=frozenset(auth.signing_scopes),
            max_skew_seconds=auth.signing_max_skew_seconds,
            nonce_cache_size=auth.signing_nonce_cache_size,
            shared_nonces=nonces,
        )
    return Authenticator(
        jwt=verifier,
        signatures=signatures,
        mtls_scopes=frozenset(auth.mtls_scopes),
        method_scopes=method_scopes or {},
    )


def shared_nonces(engine: AsyncEngine) -> NonceStore | None:
    """Replicas share PostgreSQL; SQLite serves one process, whose memory cache suffices."""
    return SqlNonceStore(engine) if engine.dialect.name == "postgresql" else None


def bootstrap(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    tracer_provider: TracerProvider | None = None,
) -> Container[UserHandlers]:
    """Builds every dependency; tests pass a tracer provider with an in-memory exporter."""
    settings.check_api_security()
    page_token_secret = required(settings.page_token_secret, "page_token_secret")
    engine = database_engine(settings)
    page_tokens = PageTokenCodec(page_token_secret.get_secret_value().encode())
    window = settings.database.coalesce_window_seconds
    reads = SqlUserReads(engine, window_seconds=window)
    group = (
        GroupCommit(engine, window_seconds=window) if engine.dialect.name == "postgresql" else None
    )
    handlers = UserHandlers(
        lambda: SqlUnitOfWork(engine, encode_event, clock, group=group),
        page_tokens,
        clock=clock,
        reads=reads,
    )
    observing = Observability.of(settings, engine, tracer_provider)
    janitor = request_id_janitor(settings, engine, clock)
    service = user_service(handlers)
    return api_container(
        settings,
        engine,
        observing,
        service,
        handlers,
        janitor=janitor,
        holders=(reads, group) if group is not None else (reads,),
    )


def api_container(
    settings: Settings,
    engine: AsyncEngine,
    observing: "Observability",
    service: ServiceBinding,
    handlers: H,
    *,
    janitor: Housekeeper | None,
    background: tuple[Housekeeper, ...] = (),
    holders: tuple[Closable, ...] = (),
) -> Container[H]:
    """A service's API process from its parts: the one place that adds authentication (with
    the service's method scopes) and observability to every service."""
    nonces = shared_nonces(engine)
    authenticator = build_authenticator(settings, observing.registry, nonces, service.method_scopes)
    return Container(
        settings=settings,
        engine=engine,
        service=service,
        handlers=handlers,
        authenticator=authenticator,
        janitor=janitor,
        registry=observing.registry,
        metrics=observing.metrics,
        tracer_provider=observing.tracer_provider,
        background=background,
        holders=holders,
    )


@dataclass(frozen=True)
class Observability:
    """An API process's metrics registry, its gRPC metrics and its tracer provider."""

    registry: CollectorRegistry
    metrics: GrpcMetrics | None
    tracer_provider: TracerProvider | None

    @classmethod
    def of(
        cls, settings: Settings, engine: AsyncEngine, tracer_provider: TracerProvider | None
    ) -> "Observability":
        # Database spans only when someone looks at spans: tracing on, or a provider from a test.
        if tracer_provider is not None or settings.telemetry.tracing:
            tracer_provider = tracer_provider or configure_tracing()
            instrument_engine(engine, tracer_provider)
        registry = CollectorRegistry()
        metrics = None
        if settings.telemetry.metrics:
            metrics = GrpcMetrics(registry)
            register_pool_metrics(registry, engine)
            register_certificate_metrics(registry, settings.tls.cert_file)
        return cls(registry, metrics, tracer_provider)


def request_id_janitor(
    settings: Settings, engine: AsyncEngine, clock: Callable[[], datetime]
) -> RequestIdJanitor:
    return RequestIdJanitor(
        engine,
        timedelta(hours=settings.idempotency_retention_hours),
        interval=REQUEST_ID_PURGE_INTERVAL_SECONDS,
        clock=clock,
    )


def database_engine(
    settings: Settings, *, pool_size: int | None = None, session: Mapping[str, str] | None = None
) -> AsyncEngine:
    """The engine every process uses; one-shot commands ask for a pool of one."""
    return create_engine(
        required(settings.database_url, "database_url").get_secret_value(),
        pool_size=pool_size or settings.database.pool_size,
        max_overflow=0 if pool_size else settings.database.max_overflow,
        pool_timeout=settings.database.pool_timeout_seconds,
        session=session,
    )


async def bootstrap_bridge(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    nats_client: NatsClient | None = None,
) -> BridgeContainer:
    """The relay process: connects to NATS (retrying), provisions the stream, builds the relay."""
    nats_url = None if nats_client else required(settings.nats_url, "nats_url")
    engine = database_engine(settings, session=outbox_store.RELAY_SESSION)
    client = nats_client or await connect(str(nats_url), "usersuite-bridge")
    try:
        await ensure_stream(client.jetstream(), settings.stream)
    except Exception:
        await client.close()
        await engine.dispose()
        raise
    registry = CollectorRegistry()
    relay = Relay(engine, client, settings.bridge, RelayMetrics(registry), clock)
    return BridgeContainer(settings, engine, client, relay, registry)


async def tail_events(
    settings: Settings, *, subject: str, from_start: bool, out: TextIO, limit: int | None = None
) -> int:
    """`usersuite events tail`: its NATS client is connected here, like every other client."""
    # A one-shot command: a NATS that does not answer is reported, not waited for.
    nc = await connect(required(settings.nats_url, "nats_url"), "usersuite-tail", first_attempts=1)
    try:
        return await tail(
            nc, stream=settings.stream.name, subject=subject, from_start=from_start, out=out,
            limit=limit,
        )  # fmt: skip
    finally:
        await nc.close()
