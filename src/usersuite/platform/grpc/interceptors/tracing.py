"""Server spans for the user service (OpenTelemetry's gRPC instrumentation)."""

from typing import Any

from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters
from opentelemetry.sdk.trace import TracerProvider


def tracing_interceptor(tracer_provider: TracerProvider) -> Any:
    """Server spans for our service. Health and reflection are left out: probes would flood
    the traces, and their streaming handlers (which write to the context) are not supported
    by the instrumentation's stream wrapper."""
    ours = filters.service_prefix("user.")
    return aio_server_interceptor(tracer_provider=tracer_provider, filter_=ours)  # type: ignore[no-untyped-call]
