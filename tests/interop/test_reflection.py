"""Reflection answers every tool: grpcurl, ghz and a reflection client written in Go."""

import asyncio
import json
import subprocess

import pytest

# Loads an extension (google.api.http) into this process's descriptor pool, which the
# in-process server below serves by reflection.
from google.api import annotations_pb2  # noqa: F401

from tests.interop.clients import INTEROP
from tests.support.processes import UsersuiteProcess, child_env
from tests.support.tools import describe, which
from usersuite.platform.grpc.server import ApiServer

REFLECT = INTEROP / "go" / "bin" / "reflect"
SYMBOLS = {
    "user.v1.UserService": "user/v1/user.proto",
    "user.v1.UserService.GetUser": "user/v1/user.proto",
    "user.v1.User": "user/v1/user.proto",
    "user.v1.User.email": "user/v1/user.proto",
    "user.v1.ErrorReason": "user/v1/user.proto",
    "user.v1.ERROR_REASON_ETAG_MISMATCH": "user/v1/user.proto",
    "google.rpc.BadRequest.FieldViolation": "google/rpc/error_details.proto",
}
EXTENSION = {"google.api.http": "google/api/annotations.proto"}


def run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=child_env()
    )


def reflect(target: str, *symbols: str) -> subprocess.CompletedProcess[str]:
    if not REFLECT.exists():
        pytest.fail(f"{REFLECT} is not built: run `make interop-clients`")
    return run_tool(str(REFLECT), target, *symbols)


def found(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """symbol -> the file the server said defines it, from the Go client's FOUND lines."""
    lines = [line.split(" ") for line in result.stdout.splitlines() if line.startswith("FOUND ")]
    return {words[1]: words[3] for words in lines}


def test_go_reflection_client_finds_methods_nested_types_and_enum_values(
    interop_server: UsersuiteProcess,
) -> None:
    result = reflect(interop_server.target, *SYMBOLS)
    assert result.returncode == 0, describe(result)
    services = result.stdout.splitlines()[0].split(" ")[1:]
    assert {"user.v1.UserService", "grpc.health.v1.Health"} <= set(services), describe(result)
    assert found(result) == SYMBOLS, describe(result)


def test_go_reflection_client_is_told_an_unknown_method_is_not_found(
    interop_server: UsersuiteProcess,
) -> None:
    result = reflect(interop_server.target, "user.v1.UserService.NoSuchMethod")
    assert result.returncode == 1, describe(result)
    assert "MISSING user.v1.UserService.NoSuchMethod: error 5" in result.stdout, describe(result)


async def test_go_reflection_client_finds_a_loaded_extension(server: ApiServer) -> None:
    process = await asyncio.create_subprocess_exec(
        str(REFLECT),
        f"127.0.0.1:{server.port}",
        *EXTENSION,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(),
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    output = stdout.decode()
    assert process.returncode == 0, f"{output}\n{stderr.decode()}"
    assert "FOUND google.api.http in google/api/annotations.proto" in output


def test_grpcurl_lists_and_describes_through_reflection(interop_server: UsersuiteProcess) -> None:
    grpcurl = which("grpcurl")

    def run(*args: str) -> str:
        result = run_tool(grpcurl, "-plaintext", interop_server.target, *args)
        assert result.returncode == 0, describe(result)
        return result.stdout

    assert "user.v1.UserService" in run("list").splitlines()
    assert "user.v1.UserService.GetUser" in run("list", "user.v1.UserService").splitlines()
    method = run("describe", "user.v1.UserService.GetUser")
    assert "rpc GetUser ( .user.v1.GetUserRequest ) returns ( .user.v1.User );" in method
    assert "Gets a user by resource name." in method, "comments come from the descriptor set"
    nested = run("describe", "google.rpc.BadRequest.FieldViolation")
    assert "message FieldViolation {" in nested


def test_ghz_calls_through_reflection(interop_server: UsersuiteProcess, token: str) -> None:
    result = run_tool(
        which("ghz"),
        "--insecure",
        "--call",
        "user.v1.UserService.ListUsers",
        "-d",
        json.dumps({"page_size": 1}),
        "-m",
        json.dumps({"authorization": f"Bearer {token}"}),
        "-n",
        "20",
        "-c",
        "2",
        "-O",
        "json",
        interop_server.target,
    )
    assert result.returncode == 0, describe(result)
    report = json.loads(result.stdout)
    assert report["statusCodeDistribution"] == {"OK": 20}, report.get("errorDistribution")
