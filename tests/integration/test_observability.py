"""Prometheus metrics, the ops HTTP listener and the access log, through a real channel."""

import asyncio
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tests.support.observing import HS256_SECRET, SERVICE, Observed, expect_not_found, new_user
from tests.support.settings import make_settings
from tests.support.waiting import eventually, holds
from user.v1 import user_pb2
from usersuite.bootstrap import bootstrap
from usersuite.platform.grpc.auth.jwt import mint_token
from usersuite.platform.grpc.server import start
from usersuite.platform.ops.http import OpsHttpServer, ops_listener
from usersuite.platform.ops.logs import JsonFormatter, TextFormatter


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
    # The health monitor probes the same pool every 0.2 s here: paused, only the call uses it.
    await observed.server.monitor.stop()
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
    caplog.set_level(logging.INFO, logger="usersuite.platform.ops.http")
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

    def access_lines() -> list[dict[str, Any]]:
        return [
            json.loads(JsonFormatter().format(record))
            for record in caplog.records
            if record.name == "usersuite.access"
        ]

    def server_traces() -> set[str]:
        return {
            trace.format_trace_id(span.context.trace_id)
            for span in observed.spans()
            if span.kind is SpanKind.SERVER
        }

    # The server writes a call's line and ends its span when the call is over on its side,
    # which can be just after the client has read a failed call's status.
    await eventually(
        holds(lambda: {line["trace_id"] for line in access_lines()} <= server_traces()
              and len(access_lines()) >= 4),
        what="an access line and a server span for each of the four calls",
    )  # fmt: skip
    access = access_lines()
    assert [(line["method"], line["code"], line["principal"]) for line in access] == [
        (f"/{SERVICE}/CreateUser", "OK", "alice"),
        (f"/{SERVICE}/GetUser", "NOT_FOUND", "alice"),
        (f"/{SERVICE}/GetUser", "UNAUTHENTICATED", ""),
        (f"/{SERVICE}/CreateUser", "PERMISSION_DENIED", "bob"),
    ]
    traces = server_traces()
    for line in access:
        assert set(line) >= {"timestamp", "level", "logger", "message"}
        assert line["logger"] == "usersuite.access"
        assert line["duration_ms"] >= 0
        assert line["peer"].startswith(("ipv4:", "ipv6:"))
        assert line["trace_id"] in traces

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
