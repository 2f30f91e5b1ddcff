"""Access log and Prometheus metrics for every call (go-grpc-prometheus names and labels)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.api.errors import spec_for
from usersuite.api.interceptors.base import Continuation, UnaryBehavior, wrap_unary
from usersuite.service import request_context

access_log = logging.getLogger("usersuite.access")

GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
# prometheus.DefBuckets of client_golang, as go-grpc-prometheus uses, so dashboards carry over.
HANDLING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class CallRecord:
    """Facts about the current call that inner interceptors learn and this one reports."""

    principal: str = ""


# Set by ObservabilityInterceptor before it calls inward; the auth interceptor, which runs
# inside it and resets its own contextvars on the way out, writes the principal here.
current_call: ContextVar[CallRecord | None] = ContextVar("current_call", default=None)


def record_principal(subject: str) -> None:
    """Tells the access log who is calling; a no-op outside an observed call."""
    record = current_call.get()
    if record is not None:
        record.principal = subject


class PoolCollector:
    """Connection pool gauges, read from the SQLAlchemy pool at scrape time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        pool: Any = self._engine.sync_engine.pool
        # Only queue pools keep counts; other pool classes (NullPool, StaticPool) report none.
        if not all(hasattr(pool, name) for name in ("size", "checkedout", "overflow")):
            return
        readings = (
            ("usersuite_db_pool_size", "Connections the pool keeps open", pool.size()),
            ("usersuite_db_pool_checked_out", "Connections in use", pool.checkedout()),
            # SQLAlchemy counts overflow from -size; only connections beyond the size count.
            ("usersuite_db_pool_overflow", "Connections beyond the pool size", pool.overflow()),
        )
        for name, documentation, value in readings:
            yield GaugeMetricFamily(name, documentation, value=max(value, 0))


class GrpcMetrics:
    """grpc_server_started_total, grpc_server_handled_total, grpc_server_handling_seconds.

    With an engine (here or via attach_engine), also the usersuite_db_pool_* gauges.
    """

    def __init__(self, registry: CollectorRegistry, engine: AsyncEngine | None = None) -> None:
        self.registry = registry
        self.started = Counter(
            "grpc_server_started_total",
            "Total number of RPCs started on the server.",
            GRPC_LABELS,
            registry=registry,
        )
        self.handled = Counter(
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            (*GRPC_LABELS, "grpc_code"),
            registry=registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level "
            "handled by the server.",
            GRPC_LABELS,
            buckets=HANDLING_BUCKETS,
            registry=registry,
        )
        if engine is not None:
            self.attach_engine(engine)

    def attach_engine(self, engine: AsyncEngine) -> None:
        self.registry.register(PoolCollector(engine))

    def observe(self, method: str, code: grpc.StatusCode, seconds: float) -> None:
        labels = unary_labels(method)
        self.handled.labels(*labels, code.name).inc()
        self.handling_seconds.labels(*labels).observe(seconds)


def unary_labels(method: str) -> tuple[str, str, str]:
    """("unary", service, method) from "/package.Service/Method"."""
    service, _, name = method.lstrip("/").rpartition("/")
    return "unary", service, name


def final_code(
    context: grpc.aio.ServicerContext[Any, Any], error: BaseException | None
) -> grpc.StatusCode:
    """The status the call ends with, as the client will see it."""
    if error is None:
        # A servicer may set a code without aborting; grpc reports None for plain success.
        return context.code() or grpc.StatusCode.OK
    if isinstance(error, grpc.aio.AbortError):
        # context.abort() records the code on the context before raising (grpcio >= 1.38).
        return context.code() or grpc.StatusCode.UNKNOWN
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    return spec_for(error).code


def current_trace_id() -> str:
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else ""


class ObservabilityInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Counts, times and logs unary calls; streaming calls pass through unobserved."""

    def __init__(self, *, access_log: bool, metrics: GrpcMetrics | None) -> None:
        self._access_log = access_log
        self._metrics = metrics

    # grpc returns UNIMPLEMENTED for a None handler; grpc-stubs omits the None.
    async def intercept_service(  # type: ignore[override]
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method

        def wrap(behavior: UnaryBehavior) -> UnaryBehavior:
            async def observed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                if self._metrics is not None:
                    self._metrics.started.labels(*unary_labels(method)).inc()
                record = CallRecord(principal=request_context.principal.get().subject)
                token = current_call.set(record)
                start = time.perf_counter()
                error: BaseException | None = None
                try:
                    return await behavior(request, context)
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    seconds = time.perf_counter() - start
                    current_call.reset(token)
                    self._finish(method, context, error, seconds, record)

            return observed

        # None (an unknown method) passes through: grpc answers UNIMPLEMENTED.
        return wrap_unary(await continuation(handler_call_details), wrap)

    def _finish(
        self,
        method: str,
        context: grpc.aio.ServicerContext[Any, Any],
        error: BaseException | None,
        seconds: float,
        record: CallRecord,
    ) -> None:
        code = final_code(context, error)
        if self._metrics is not None:
            self._metrics.observe(method, code, seconds)
        if self._access_log:
            duration_ms = round(seconds * 1000, 3)
            # Only these fields: never metadata values, tokens or request bodies.
            access_log.info(
                "%s %s %.1fms",
                method,
                code.name,
                duration_ms,
                extra={
                    "method": method,
                    "code": code.name,
                    "duration_ms": duration_ms,
                    "peer": context.peer(),
                    "principal": record.principal,
                    "trace_id": current_trace_id(),
                },
            )
