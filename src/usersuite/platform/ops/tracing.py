"""OpenTelemetry setup: the provider (OTLP via the standard OTEL_* variables), engine spans."""

from contextlib import suppress
from importlib.metadata import PackageNotFoundError, version

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import (
    __version__ as sqlalchemy_instrumentation,
)
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

SERVICE = "usersuite"


def service_resource() -> Resource:
    """service.name "usersuite" unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES name one."""
    # Resource.create lets explicit attributes win over the environment, so the defaults are
    # only filled in where the environment left them out.
    detected = Resource.create()
    defaults: dict[str, str] = {}
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        defaults[SERVICE_NAME] = SERVICE
    if SERVICE_VERSION not in detected.attributes:
        with suppress(PackageNotFoundError):  # a source tree without an install has none
            defaults[SERVICE_VERSION] = version(SERVICE)
    return detected.merge(Resource(defaults)) if defaults else detected


def configure_tracing() -> TracerProvider:
    """A provider exporting over OTLP/gRPC, configured by the standard OTEL_* variables.

    The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _INSECURE and
    _CERTIFICATE; the sampler comes from OTEL_TRACES_SAMPLER. The provider is not made global:
    everything that traces is handed it explicitly by bootstrap.
    """
    provider = TracerProvider(resource=service_resource())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def instrument_engine(engine: AsyncEngine, tracer_provider: TracerProvider) -> None:
    """Database spans nest under the RPC span.

    EngineTracer is what SQLAlchemyInstrumentor().instrument(engine=...) builds; we use it
    directly because the instrumentor is a process-wide singleton that instruments only once
    (and patches create_engine globally), while every bootstrap() builds its own engine.
    """
    tracer = tracer_provider.get_tracer(
        "opentelemetry.instrumentation.sqlalchemy", sqlalchemy_instrumentation
    )
    # The connection-usage metric goes nowhere: pool metrics are Prometheus gauges.
    usage = (
        NoOpMeterProvider()
        .get_meter("opentelemetry.instrumentation.sqlalchemy")
        .create_up_down_counter("db.client.connections.usage")
    )
    EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]
