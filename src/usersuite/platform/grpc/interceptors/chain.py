"""The interceptor stack, in its one documented order (outermost first).

1. error recovery   nothing leaves unmapped: an unexpected failure anywhere -> INTERNAL, logged
2. tracing          OpenTelemetry server span; continues a caller's W3C traceparent
                    (tracing off: only the caller's trace context, carried into its events)
3. access log       one JSON line per call; Prometheus grpc_server_* metrics
4. deadline         default and maximum deadline; bounds the database work
   request guard    oversized -> RESOURCE_EXHAUSTED, undecodable -> INVALID_ARGUMENT
5. authentication   every handler kind; credentials failing it too often are refused first;
                    JWT / request signature / mTLS identity -> principal; scopes -> authorization
6. rate limit       token buckets per principal and global
7. error mapping    the servicer's domain errors -> statuses, so layers 2-3 record real codes
"""

from typing import Any

import grpc
from opentelemetry.sdk.trace import TracerProvider

from usersuite.platform.config.groups import LimitSettings
from usersuite.platform.config.settings import Settings
from usersuite.platform.grpc.auth.authenticator import Authenticator
from usersuite.platform.grpc.errors import ErrorCatalog
from usersuite.platform.grpc.interceptors.auth import AuthInterceptor
from usersuite.platform.grpc.interceptors.deadline import DeadlineInterceptor
from usersuite.platform.grpc.interceptors.errors import ErrorInterceptor
from usersuite.platform.grpc.interceptors.observability import GrpcMetrics, ObservabilityInterceptor
from usersuite.platform.grpc.interceptors.rate_limit import FailedAuthLimiter, RateLimitInterceptor
from usersuite.platform.grpc.interceptors.request_guard import (
    HARD_LIMIT_FACTOR,
    RequestGuardInterceptor,
)
from usersuite.platform.grpc.interceptors.trace_context import TraceContextInterceptor
from usersuite.platform.grpc.interceptors.tracing import tracing_interceptor
from usersuite.platform.grpc.public_methods import public_methods


def transport_options(limits: LimitSettings, *, reuse_port: bool = False) -> list[tuple[str, int]]:
    """grpc server options: message size hard stop, concurrency and keepalive enforcement."""
    hard_limit = limits.max_message_bytes * HARD_LIMIT_FACTOR
    return [
        ("grpc.max_receive_message_length", hard_limit),
        ("grpc.max_send_message_length", hard_limit),
        ("grpc.max_concurrent_streams", limits.max_concurrent_streams),
        ("grpc.keepalive_time_ms", int(limits.keepalive_time_seconds * 1000)),
        ("grpc.keepalive_timeout_ms", int(limits.keepalive_timeout_seconds * 1000)),
        # Keepalive enforcement: clients that ping more often than this get a GOAWAY.
        (
            "grpc.http2.min_ping_interval_without_data_ms",
            int(limits.keepalive_min_client_interval_seconds * 1000),
        ),
        ("grpc.http2.max_ping_strikes", 2),
        # A second process on a taken port must fail, not silently share its connections;
        # only the workers of `serve --workers N` share, on the port their parent holds.
        ("grpc.so_reuseport", 1 if reuse_port else 0),
    ]


def build_interceptors(
    settings: Settings,
    *,
    authenticator: Authenticator | None,
    tracer_provider: TracerProvider | None,
    metrics: GrpcMetrics | None,
    errors: ErrorCatalog,
) -> list[grpc.aio.ServerInterceptor]:  # type: ignore[type-arg]
    """The stack, one concern each (the server fuses neighbours: fused.py); `tracer_provider`
    None means tracing off, where only the caller's trace context is carried into the call (and
    so into its events), without span work."""
    telemetry, limits = settings.telemetry, settings.limits
    tracing = (
        TraceContextInterceptor()
        if tracer_provider is None
        else tracing_interceptor(tracer_provider)
    )
    stack: list[Any] = [ErrorInterceptor(errors), tracing]
    if telemetry.access_log or metrics is not None:
        observed = ObservabilityInterceptor(
            access_log=telemetry.access_log, metrics=metrics, errors=errors
        )
        stack.append(observed)
    stack.append(DeadlineInterceptor(limits, errors))
    stack.append(RequestGuardInterceptor(limits.max_message_bytes, errors))
    public = public_methods(settings)
    if authenticator is not None:
        failures = FailedAuthLimiter(limits)
        stack.append(AuthInterceptor(authenticator, failures, exempt=public, errors=errors))
    if limits.rate_limit_enabled:
        # Probes and tooling (the auth-exempt methods) are never rate limited either.
        stack.append(RateLimitInterceptor(limits, errors, exempt=public))
    # Next to the servicer: its exceptions are mapped (and logged) inside the span; the outermost
    # one sends every failed call's status once the layers between have recorded the call.
    stack.append(ErrorInterceptor(errors, sends_status=False))
    return stack
