"""REST/JSON through a real Envoy: gRPC codes become google.rpc.Code's HTTP status, the body is
the google.rpc.Status with its details, and REST and gRPC share one principal's rate limit."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]

from tests.support.gateway import envoy_in_front, envoy_in_front_async
from tests.support.serving import serving
from tests.support.status import details_of
from tests.support.tokens import AUDIENCE, HS_SECRET, ISSUER, claims
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.platform.domain.errors import FieldViolation
from usersuite.platform.grpc.errors import ErrorSpec

RPC = "type.googleapis.com/google.rpc."
# google/rpc/code.proto's HTTP mapping, which the issue names.
HTTP_STATUS = {
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
}


def bearer(**overrides: Any) -> dict[str, str]:
    return {"authorization": f"Bearer {jwt.encode(claims(**overrides), HS_SECRET, 'HS256')}"}


def detail(body: dict[str, Any], name: str) -> dict[str, Any]:
    found = [d for d in body["details"] if d["@type"] == f"{RPC}{name}"]
    assert len(found) == 1, body
    return dict(found[0])


def assert_status(response: httpx.Response, code: grpc.StatusCode, reason: str) -> dict[str, Any]:
    assert response.status_code == HTTP_STATUS[code], response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code.value[0], body
    assert body["message"], body
    info = detail(body, "ErrorInfo")
    assert (info["reason"], info["domain"]) == (reason, "usersuite.user.v1"), body
    return body


@pytest.fixture
async def gateway(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The API with auth on (and a principal burst of 3 that hardly refills), Envoy in front."""
    auth = {"enabled": True, "issuer": ISSUER, "audience": AUDIENCE, "hs256_secret": HS_SECRET}
    limits = {"principal_rate_per_second": 0.001, "principal_burst": 3}
    async with (
        serving(sqlite_url, auth=auth, limits=limits) as served,
        envoy_in_front_async(served.target, tmp_path) as envoy,
        httpx.AsyncClient(base_url=envoy.url, timeout=30) as http,
    ):
        yield http, served.target


async def test_the_apis_errors_over_rest(gateway: tuple[httpx.AsyncClient, str]) -> None:
    http, _ = gateway
    anonymous = await http.get("/v1/users/nobody")
    assert_status(anonymous, grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")

    reader = await http.post(
        "/v1/users", json={"display_name": "R", "email": "r@example.com"},
        headers=bearer(sub="reader", scope="users.read"),
    )  # fmt: skip
    denied = assert_status(reader, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert detail(denied, "ErrorInfo")["metadata"] == {"required_scope": "users.write"}

    writer = bearer(sub="writer")
    bad = await http.post(
        "/v1/users", json={"display_name": "B", "email": "no-email"}, headers=writer
    )
    body = assert_status(bad, grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert [v["field"] for v in detail(body, "BadRequest")["field_violations"]] == ["user.email"]

    ada = {"display_name": "Ada", "email": "ada@example.com"}
    created = (await http.post("/v1/users", json=ada, headers=writer)).json()
    again = await http.post("/v1/users", json=ada, headers=bearer(sub="writer2"))
    assert_status(again, grpc.StatusCode.ALREADY_EXISTS, "EMAIL_ALREADY_EXISTS")

    stale = await http.patch(
        f"/v1/{created['name']}", params={"update_mask": "display_name"},
        json={"display_name": "Countess", "etag": "stale"}, headers=bearer(sub="writer3"),
    )  # fmt: skip
    assert_status(stale, grpc.StatusCode.ABORTED, "ETAG_MISMATCH")

    missing = await http.get("/v1/users/nobody", headers=bearer(sub="writer4"))
    body = assert_status(missing, grpc.StatusCode.NOT_FOUND, "USER_NOT_FOUND")
    assert detail(body, "ErrorInfo")["metadata"] == {"name": "users/nobody"}


async def test_rest_and_grpc_share_one_principals_rate_limit(
    gateway: tuple[httpx.AsyncClient, str],
) -> None:
    http, target = gateway
    headers = bearer(sub="shared")  # one principal, one token, two protocols
    async with grpc.aio.insecure_channel(target) as channel:
        stub = user_pb2_grpc.UserServiceStub(channel)
        metadata = tuple(headers.items())
        assert (await http.get("/v1/users", headers=headers)).status_code == 200
        await stub.ListUsers(user_pb2.ListUsersRequest(), metadata=metadata)
        assert (await http.get("/v1/users", headers=headers)).status_code == 200
        # The burst of 3 is spent, by both protocols together.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListUsers(user_pb2.ListUsersRequest(), metadata=metadata)
        assert details_of(caught.value).code == grpc.StatusCode.RESOURCE_EXHAUSTED
        limited = await http.get("/v1/users", headers=headers)
        body = assert_status(limited, grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED")
        assert detail(body, "RetryInfo")["retry_delay"].endswith("s"), body
        # Another principal still has its own budget.
        assert (await http.get("/v1/users", headers=bearer(sub="other"))).status_code == 200


async def test_a_stopped_api_is_unavailable_as_json(sqlite_url: str, tmp_path: Path) -> None:
    async with (
        serving(sqlite_url) as served,
        envoy_in_front_async(served.target, tmp_path) as envoy,
    ):
        await served.server.stop(0)
        async with httpx.AsyncClient(base_url=envoy.url, timeout=30) as http:
            response = await http.get("/v1/users")
        # A gRPC client through the gateway gets Envoy's reply as gRPC, not as REST's JSON.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{envoy.port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await user_pb2_grpc.UserServiceStub(channel).ListUsers(user_pb2.ListUsersRequest())
    assert response.status_code == 503, response.text
    assert response.json()["code"] == grpc.StatusCode.UNAVAILABLE.value[0], response.text
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert not (caught.value.details() or "").startswith("{"), caught.value.details()


class EveryCode(user_pb2_grpc.UserServiceServicer):
    """Fails GetUser("users/<CODE>") with that code and every kind of detail, built by the
    API's own error statuses: the codes the user service never returns (FAILED_PRECONDITION)
    reach the gateway as they will from the order and billing services."""

    async def GetUser(
        self, request: user_pb2.GetUserRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> user_pb2.User:
        code = grpc.StatusCode[request.name.removeprefix("users/")]
        spec = ErrorSpec(
            code, "VALIDATION_FAILED", "usersuite.user.v1", f"failed with {code.name}",
            {"name": request.name}, [FieldViolation("name", "a field it names")],
            retry_after_seconds=1.5,
        )  # fmt: skip
        status = spec.to_status()
        await context.abort(status.code, status.details, status.trailing_metadata)


@pytest.fixture
async def every_code(tmp_path: Path) -> AsyncIterator[str]:
    server = grpc.aio.server()
    user_pb2_grpc.add_UserServiceServicer_to_server(EveryCode(), server)  # type: ignore[abstract]
    servicer = health_aio.HealthServicer()
    await servicer.set("user.v1.UserService", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with envoy_in_front_async(f"127.0.0.1:{port}", tmp_path) as envoy:
            yield envoy.url
    finally:
        await server.stop(0)


@pytest.mark.parametrize("code", list(HTTP_STATUS), ids=lambda code: code.name)
async def test_each_code_maps_to_its_http_status_with_details(
    every_code: str, code: grpc.StatusCode
) -> None:
    async with httpx.AsyncClient(base_url=every_code, timeout=30) as http:
        response = await http.get(f"/v1/users/{code.name}")
    body = assert_status(response, code, "VALIDATION_FAILED")
    assert body["message"] == f"failed with {code.name}"
    assert detail(body, "RetryInfo")["retry_delay"] == "1.500s"
    violations = detail(body, "BadRequest")["field_violations"]
    assert [(v["field"], v["description"]) for v in violations] == [("name", "a field it names")]


def test_cors_preflights_are_answered_for_the_configured_origins_only(tmp_path: Path) -> None:
    allowed = "https://console.example"
    # Envoy answers preflights itself: no API is needed behind it.
    with envoy_in_front("127.0.0.1:1", tmp_path, cors_allowed_origins=[allowed]) as envoy:

        def preflight(origin: str) -> httpx.Response:
            return httpx.options(
                f"{envoy.url}/v1/users",
                headers={"origin": origin, "access-control-request-method": "POST",
                         "access-control-request-headers": "authorization,content-type"},
            )  # fmt: skip

        answered, foreign = preflight(allowed), preflight("https://evil.example")
    assert answered.status_code == 200, answered.text
    assert answered.headers["access-control-allow-origin"] == allowed
    assert "authorization" in answered.headers["access-control-allow-headers"]
    assert "access-control-allow-origin" not in foreign.headers
