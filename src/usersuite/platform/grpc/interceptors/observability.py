"""Access log and Prometheus metrics for every call (go-grpc-prometheus names and labels)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc
from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Histogram

from usersuite.platform.grpc.errors import ErrorCatalog
from usersuite.platform.grpc.interceptors.base import Context, UnaryBehavior, UnaryInterceptor
from usersuite.platform.service import request_context

access_log = logging.getLogger("usersuite.access")

GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
# prometheus.DefBuckets of client_golang, as go-grpc-prometheus uses, so dashboards carry over.
HANDLING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GrpcMetrics:
    """grpc_server_started_total, grpc_server_handled_total, grpc_server_handling_seconds."""

    def __init__(self, registry: CollectorRegistry) -> None:
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

        # Label children by method (and code): `labels()` takes a lock and builds a key on
        # every call, three times per call; the set of methods and codes is small and fixed.
        self._children: dict[tuple[str, grpc.StatusCode | None], Any] = {}

    def _child(self, method: str, code: grpc.StatusCode | None) -> Any:
        child = self._children.get((method, code))
        if child is None:
            labels = unary_labels(method)
            if code is None:
                child = (self.started.labels(*labels), self.handling_seconds.labels(*labels))
            else:
                child = self.handled.labels(*labels, code.name)
            self._children[method, code] = child
        return child

    def start(self, method: str) -> None:
        self._child(method, None)[0].inc()

    def observe(self, method: str, code: grpc.StatusCode, seconds: float) -> None:
        self._child(method, code).inc()
        self._child(method, None)[1].observe(seconds)


def unary_labels(method: str) -> tuple[str, str, str]:
    """("unary", service, method) from "/package.Service/Method"."""
    service, _, name = method.lstrip("/").rpartition("/")
    return "unary", service, name


def final_code(
    context: Context, error: BaseException | None, errors: ErrorCatalog
) -> grpc.StatusCode:
    """The status the call ends with, as the client will see it."""
    if error is None:
        # A servicer may set a code without aborting; grpc reports None for plain success.
        return context.code() or grpc.StatusCode.OK
    if isinstance(error, grpc.aio.AbortError):
        # context.abort() records the code on the context before raising (grpcio >= 1.38).
        return context.code() or grpc.StatusCode.UNKNOWN
    if isinstance(error, asyncio.CancelledError):
        # grpc cancels a call whose client deadline passed: the client saw DEADLINE_EXCEEDED.
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            return grpc.StatusCode.DEADLINE_EXCEEDED
        return grpc.StatusCode.CANCELLED
    return errors.spec_for(error).code


def current_trace_id() -> str:
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else ""


class ObservabilityInterceptor(UnaryInterceptor):
    """Counts, times and logs unary calls; streaming calls pass through unobserved."""

    def __init__(
        self, *, access_log: bool, metrics: GrpcMetrics | None, errors: ErrorCatalog
    ) -> None:
        self._errors = errors
        self._access_log = access_log
        self._metrics = metrics

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        async def observed(request: Any, context: Context) -> Any:
            if self._metrics is not None:
                self._metrics.start(method)
            # Inner interceptors fill the report in (the caller, once authenticated); only a
            # call whose access line will be written needs one.
            report = token = None
            if self._access_log and access_log.isEnabledFor(logging.INFO):
                report = request_context.CallReport(request_context.principal.get())
                token = request_context.report.set(report)
            start = time.perf_counter()
            error: BaseException | None = None
            try:
                return await behavior(request, context)
            except BaseException as exc:
                error = exc
                raise
            finally:
                seconds = time.perf_counter() - start
                if token is not None:
                    request_context.report.reset(token)
                self._finish(method, context, error, seconds, report)

        return observed

    def _finish(
        self,
        method: str,
        context: Context,
        error: BaseException | None,
        seconds: float,
        report: request_context.CallReport | None,
    ) -> None:
        code = final_code(context, error, self._errors)
        if self._metrics is not None:
            self._metrics.observe(method, code, seconds)
        # The line's fields (the peer, the trace id) cost even when the level drops the line.
        if report is not None:
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
                    "principal": report.principal.subject,
                    "trace_id": current_trace_id(),
                },
            )
