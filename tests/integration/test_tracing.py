"""Traces through a real channel: the caller's trace continued, database spans, the outbox's
trace context, error status; and how the production tracer provider names the service."""

import json

import grpc
import pytest
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import select

from tests.support.observing import SERVICE, Observed, expect_not_found, new_user
from user.v1 import user_pb2
from usersuite.platform.db.tables import outbox
from usersuite.platform.ops.tracing import configure_tracing

SQLALCHEMY_SCOPE = "opentelemetry.instrumentation.sqlalchemy"


# --- tracing ---------------------------------------------------------------------------------


async def test_server_span_continues_the_callers_trace(observed: Observed) -> None:
    with observed.tracer.start_as_current_span("client", kind=SpanKind.CLIENT) as client:
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(client))
        created = await observed.stub.CreateUser(new_user(), metadata=tuple(carrier.items()))
    assert created.name
    client_context = client.get_span_context()

    server = await observed.server_span("CreateUser", client_context.trace_id)
    assert server.parent is not None
    assert server.parent.span_id == client_context.span_id
    assert server.parent.is_remote
    attributes = dict(server.attributes or {})
    assert attributes["rpc.system"] == "grpc"
    assert attributes["rpc.service"] == SERVICE
    assert attributes["rpc.method"] == "CreateUser"
    assert attributes["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]


async def test_database_spans_are_children_of_the_rpc_span(observed: Observed) -> None:
    await observed.stub.CreateUser(new_user())
    server = await observed.server_span("CreateUser")
    database = [
        span
        for span in observed.spans()
        if span.instrumentation_scope is not None
        and span.instrumentation_scope.name == SQLALCHEMY_SCOPE
        and span.context.trace_id == server.context.trace_id
    ]
    assert database, "no SQLAlchemy spans in the call's trace"
    for span in database:
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None
        assert span.parent.span_id == server.context.span_id
    statements = [str((span.attributes or {}).get("db.statement", "")) for span in database]
    assert any(statement.startswith("INSERT INTO users") for statement in statements)
    assert any(statement.startswith("INSERT INTO outbox") for statement in statements)


async def test_outbox_row_stores_the_calls_trace_context(observed: Observed) -> None:
    with observed.tracer.start_as_current_span("client") as client:
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(client))
        await observed.stub.CreateUser(new_user(), metadata=tuple(carrier.items()))
    trace_id = client.get_span_context().trace_id

    async with observed.container.engine.connect() as conn:
        stored = (await conn.execute(select(outbox.c.trace_context))).scalar_one()
    version, stored_trace_id, parent_id, _flags = json.loads(stored)["traceparent"].split("-")
    assert version == "00"
    assert int(stored_trace_id, 16) == trace_id
    server = await observed.server_span("CreateUser", trace_id)
    assert int(parent_id, 16) == server.context.span_id


async def test_error_calls_record_their_status_on_the_span(observed: Observed) -> None:
    await expect_not_found(observed.stub.GetUser(user_pb2.GetUserRequest(name="users/nobody")))
    span = await observed.server_span("GetUser")
    attributes = dict(span.attributes or {})
    assert attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert attributes["rpc.method"] == "GetUser"
    # Semantic conventions: on the server, NOT_FOUND is the caller's error, not the span's.
    assert span.status.status_code is StatusCode.UNSET


# --- the production provider -----------------------------------------------------------------


def test_configured_provider_names_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    provider = configure_tracing()
    try:
        assert provider.resource.attributes["service.name"] == "usersuite"
    finally:
        provider.shutdown()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_SERVICE_NAME", "usersuite-canary"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=usersuite-canary,deployment.environment=ci"),
    ],
)
def test_the_environment_names_the_service(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv(variable, value)
    provider = configure_tracing()
    try:
        assert provider.resource.attributes["service.name"] == "usersuite-canary"
    finally:
        provider.shutdown()
