"""Server spans for the served service (OpenTelemetry's gRPC instrumentation)."""

from typing import Any

from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters
from opentelemetry.sdk.trace import TracerProvider


def tracing_interceptor(tracer_provider: TracerProvider) -> Any:
    """Server spans for every service but health and reflection: probes would flood the traces,
    and their streaming handlers (which write to the context) are not supported by the
    instrumentation's stream wrapper."""
    ours = filters.negate(
        filters.any_of(
            filters.service_prefix("grpc.health."), filters.service_prefix("grpc.reflection.")
        )
    )
    return aio_server_interceptor(tracer_provider=tracer_provider, filter_=ours)  # type: ignore[no-untyped-call]
