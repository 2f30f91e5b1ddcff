"""Traces, Prometheus metrics, the ops HTTP listener and the access log, through a real channel."""

import asyncio
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import grpc
import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from tests.conftest import make_settings
from tests.support.status import details_of
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.adapters.db.tables import outbox
from usersuite.api.auth.jwt import mint_token
from usersuite.api.server import UserServer, start
from usersuite.bootstrap import Container, bootstrap
from usersuite.ops.http import OpsHttpServer, ops_listener
from usersuite.ops.logs import JsonFormatter, TextFormatter
from usersuite.ops.tracing import configure_tracing

pytestmark = pytest.mark.integration
SERVICE = "user.v1.UserService"
SQLALCHEMY_SCOPE = "opentelemetry.instrumentation.sqlalchemy"
HS256_SECRET = "observability-test-secret-" + "x" * 20


@dataclass
class Observed:
    container: Container
    server: UserServer
    ops: OpsHttpServer
    stub: user_pb2_grpc.UserServiceStub
    exporter: InMemorySpanExporter
    tracer: trace.Tracer

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def server_span(self, method: str, trace_id: int | None = None) -> ReadableSpan:
        found = [
            span
            for span in self.spans()
            if span.kind is SpanKind.SERVER
            and span.name == f"/{SERVICE}/{method}"
            and (trace_id is None or span.context.trace_id == trace_id)
        ]
        assert len(found) == 1, [span.name for span in self.spans()]
        return found[0]


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    yield memory
    memory.shutdown()


async def observe(pg_url: str, exporter: InMemorySpanExporter, **overrides: object) -> Observed:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    container = bootstrap(make_settings(pg_url, **overrides), tracer_provider=provider)
    server = await start(container, "127.0.0.1:0")
    ops = OpsHttpServer("127.0.0.1:0", container.registry, lambda: server.monitor.serving)
    ops.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    stub = user_pb2_grpc.UserServiceStub(channel)
    return Observed(container, server, ops, stub, exporter, provider.get_tracer("test-client"))


async def close(observed: Observed) -> None:
    observed.ops.stop()
    await observed.server.stop(0)
    await observed.container.close()


@pytest.fixture
async def observed(pg_url: str, exporter: InMemorySpanExporter) -> AsyncIterator[Observed]:
    running = await observe(pg_url, exporter)
    yield running
    await close(running)


@pytest.fixture
async def observed_with_auth(
    pg_url: str, exporter: InMemorySpanExporter
) -> AsyncIterator[Observed]:
    auth = {"enabled": True, "hs256_secret": HS256_SECRET}
    running = await observe(pg_url, exporter, auth=auth)
    yield running
    await close(running)


def new_user(email: str = "ada@example.com") -> user_pb2.CreateUserRequest:
    return user_pb2.CreateUserRequest(user=user_pb2.User(display_name="Ada Lovelace", email=email))


async def expect_not_found(call: object) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    assert details_of(caught.value).code == grpc.StatusCode.NOT_FOUND


def http_get(port: int, path: str) -> tuple[int, str, str]:
    """(status, content type, body); an HTTP error status is an answer too."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def grpc_labels(method: str, **extra: str) -> frozenset[tuple[str, str]]:
    labels = {"grpc_type": "unary", "grpc_service": SERVICE, "grpc_method": method, **extra}
    return frozenset(labels.items())


# --- tracing ---------------------------------------------------------------------------------


async def test_server_span_continues_the_callers_trace(observed: Observed) -> None:
    with observed.tracer.start_as_current_span("client", kind=SpanKind.CLIENT) as client:
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(client))
        created = await observed.stub.CreateUser(new_user(), metadata=tuple(carrier.items()))
    assert created.name
    client_context = client.get_span_context()

    server = observed.server_span("CreateUser", client_context.trace_id)
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
    server = observed.server_span("CreateUser")
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
    assert int(parent_id, 16) == observed.server_span("CreateUser", trace_id).context.span_id


async def test_error_calls_record_their_status_on_the_span(observed: Observed) -> None:
    await expect_not_found(observed.stub.GetUser(user_pb2.GetUserRequest(name="users/nobody")))
    span = observed.server_span("GetUser")
    attributes = dict(span.attributes or {})
    assert attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert attributes["rpc.method"] == "GetUser"
    # Semantic conventions: on the server, NOT_FOUND is the caller's error, not the span's.
    assert span.status.status_code is StatusCode.UNSET


# --- metrics and the ops listener ------------------------------------------------------------


async def test_metrics_count_calls_by_method_and_code(observed: Observed) -> None:
    created = await observed.stub.CreateUser(new_user())
    await observed.stub.GetUser(user_pb2.GetUserRequest(name=created.name))
    await expect_not_found(observed.stub.GetUser(user_pb2.GetUserRequest(name="users/nobody")))

    status, content_type, body = await asyncio.to_thread(http_get, observed.ops.port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    values = samples(body)
    handled = "grpc_server_handled_total"
    assert values[handled, grpc_labels("CreateUser", grpc_code="OK")] == 1
    assert values[handled, grpc_labels("GetUser", grpc_code="OK")] == 1
    assert values[handled, grpc_labels("GetUser", grpc_code="NOT_FOUND")] == 1
    assert (handled, grpc_labels("CreateUser", grpc_code="NOT_FOUND")) not in values
    assert values["grpc_server_started_total", grpc_labels("GetUser")] == 2
    assert values["grpc_server_handling_seconds_count", grpc_labels("GetUser")] == 2
    assert values["grpc_server_handling_seconds_sum", grpc_labels("GetUser")] > 0
    inf_bucket = grpc_labels("CreateUser", le="+Inf")
    assert values["grpc_server_handling_seconds_bucket", inf_bucket] == 1


async def test_metrics_show_the_database_pool(observed: Observed) -> None:
    await observed.stub.CreateUser(new_user())
    _, _, body = await asyncio.to_thread(http_get, observed.ops.port, "/metrics")
    values = samples(body)
    no_labels: frozenset[tuple[str, str]] = frozenset()
    assert (
        values["usersuite_db_pool_size", no_labels]
        == observed.container.settings.database.pool_size
    )
    assert values["usersuite_db_pool_checked_out", no_labels] == 0  # every call gave it back
    assert values["usersuite_db_pool_overflow", no_labels] == 0


async def test_healthz_and_readyz_while_the_database_is_up(observed: Observed) -> None:
    assert observed.server.monitor.serving
    assert await asyncio.to_thread(http_get, observed.ops.port, "/healthz") == (
        200,
        "text/plain; charset=utf-8",
        "ok\n",
    )
    status, _, _ = await asyncio.to_thread(http_get, observed.ops.port, "/readyz")
    assert status == 200
    status, _, _ = await asyncio.to_thread(http_get, observed.ops.port, "/nothing-here")
    assert status == 404


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, so nobody else takes it, not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


async def test_readyz_is_503_while_the_database_is_unreachable(closed_port: int) -> None:
    url = f"postgresql+psycopg://nobody:nothing@127.0.0.1:{closed_port}/nowhere"
    container = bootstrap(
        make_settings(url, database={"health_interval_seconds": 0.2, "pool_timeout_seconds": 1})
    )
    server = await start(container, "127.0.0.1:0")
    ops = OpsHttpServer("127.0.0.1:0", container.registry, lambda: server.monitor.serving)
    port = ops.start()
    try:
        assert not server.monitor.serving
        status, _, body = await asyncio.to_thread(http_get, port, "/readyz")
        assert (status, body) == (503, "not ready\n")
        status, _, _ = await asyncio.to_thread(http_get, port, "/healthz")
        assert status == 200  # alive, just not ready
    finally:
        ops.stop()
        await server.stop(0)
        await container.close()


async def test_readiness_follows_the_callable_and_a_failing_check_is_not_ready() -> None:
    state: dict[str, bool | None] = {"ready": False}

    def ready() -> bool:
        if state["ready"] is None:
            raise RuntimeError("check broke")
        return bool(state["ready"])

    ops = OpsHttpServer("127.0.0.1:0", CollectorRegistry(), ready)
    port = ops.start()
    try:
        assert (await asyncio.to_thread(http_get, port, "/readyz"))[0] == 503
        state["ready"] = True
        assert (await asyncio.to_thread(http_get, port, "/readyz"))[0] == 200
        state["ready"] = None
        assert (await asyncio.to_thread(http_get, port, "/readyz"))[0] == 503
    finally:
        ops.stop()


async def test_the_listener_reports_its_port_and_closes_its_socket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="usersuite.ops.http")
    with ops_listener("127.0.0.1:0", CollectorRegistry(), lambda: True) as ops:
        port = ops.port
        assert port > 0
        assert f"http://127.0.0.1:{port} " in caplog.text
        assert (await asyncio.to_thread(http_get, port, "/healthz"))[0] == 200
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass
    ops.stop()  # a second stop is harmless


# --- access log ------------------------------------------------------------------------------


async def test_access_log_has_one_json_line_per_call_and_no_credentials(
    observed_with_auth: Observed, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    observed = observed_with_auth
    token = mint_token(
        HS256_SECRET.encode(),
        subject="alice",
        scopes=["users.read", "users.write"],
        issuer="usersuite",
        audience="usersuite",
    )
    read_only = mint_token(
        HS256_SECRET.encode(),
        subject="bob",
        scopes=["users.read"],
        issuer="usersuite",
        audience="usersuite",
    )
    bearer = (("authorization", f"Bearer {token}"),)
    created = await observed.stub.CreateUser(new_user(), metadata=bearer)
    await expect_not_found(
        observed.stub.GetUser(user_pb2.GetUserRequest(name="users/nobody"), metadata=bearer)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await observed.stub.GetUser(user_pb2.GetUserRequest(name=created.name))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await observed.stub.CreateUser(
            new_user("bob@example.com"), metadata=(("authorization", f"Bearer {read_only}"),)
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    access = [
        json.loads(JsonFormatter().format(record))
        for record in caplog.records
        if record.name == "usersuite.access"
    ]
    assert [(line["method"], line["code"], line["principal"]) for line in access] == [
        (f"/{SERVICE}/CreateUser", "OK", "alice"),
        (f"/{SERVICE}/GetUser", "NOT_FOUND", "alice"),
        (f"/{SERVICE}/GetUser", "UNAUTHENTICATED", ""),
        (f"/{SERVICE}/CreateUser", "PERMISSION_DENIED", "bob"),
    ]
    server_traces = {
        trace.format_trace_id(span.context.trace_id)
        for span in observed.spans()
        if span.kind is SpanKind.SERVER
    }
    for line in access:
        assert set(line) >= {"timestamp", "level", "logger", "message"}
        assert line["logger"] == "usersuite.access"
        assert line["duration_ms"] >= 0
        assert line["peer"].startswith(("ipv4:", "ipv6:"))
        assert line["trace_id"] in server_traces

    everything = "\n".join(
        formatter.format(record)
        for record in caplog.records
        for formatter in (JsonFormatter(), TextFormatter())
    )
    for credential in (token, read_only):
        assert credential not in everything
        assert credential.split(".")[2] not in everything  # not even the signature
    assert HS256_SECRET not in everything
    assert "Ada Lovelace" not in everything  # no request bodies
    assert "ada@example.com" not in everything


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
