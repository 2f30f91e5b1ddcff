"""The API server with in-memory tracing and its ops listener, for the observability tests."""

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.support.settings import make_settings
from tests.support.status import failure
from tests.support.stubs import AsyncUserStub
from tests.support.waiting import eventually, holds
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.bootstrap import UsersContainer, bootstrap
from usersuite.platform.grpc.server import ApiServer, start
from usersuite.platform.ops.http import OpsHttpServer

SERVICE = "user.v1.UserService"
HS256_SECRET = "observability-test-secret-" + "x" * 20


@dataclass
class Observed:
    container: UsersContainer
    server: ApiServer
    ops: OpsHttpServer
    stub: AsyncUserStub
    exporter: InMemorySpanExporter
    tracer: trace.Tracer

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    async def server_span(self, method: str, trace_id: int | None = None) -> ReadableSpan:
        """The one server span of `method`: the server ends it when the call is over on its
        side, which can be just after the client has read the status."""

        def found() -> list[ReadableSpan]:
            return [
                span
                for span in self.spans()
                if span.kind is SpanKind.SERVER
                and span.name == f"/{SERVICE}/{method}"
                and (trace_id is None or span.context.trace_id == trace_id)
            ]

        await eventually(holds(lambda: bool(found())), what=f"the server span of {method}")
        spans = found()
        assert len(spans) == 1, [span.name for span in self.spans()]
        return spans[0]


async def observe(pg_url: str, exporter: InMemorySpanExporter, **overrides: Any) -> Observed:
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


def new_user(email: str = "ada@example.com") -> user_pb2.CreateUserRequest:
    return user_pb2.CreateUserRequest(user=user_pb2.User(display_name="Ada Lovelace", email=email))


async def expect_not_found(call: Awaitable[object]) -> None:
    assert (await failure(call)).code == grpc.StatusCode.NOT_FOUND
