"""`helm test`: the API's gRPC health, and one authenticated ListUsers when a token is given.

Runs with the usersuite image's Python (grpcio and the generated stubs are installed there).
Settings come from the environment: SMOKE_TARGET (host:port), optional SMOKE_CA_FILE (TLS),
SMOKE_CLIENT_CERT_FILE and SMOKE_CLIENT_KEY_FILE (mutual TLS), SMOKE_TOKEN_FILE.
"""

import os
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from user.v1 import user_pb2, user_pb2_grpc

TIMEOUT_SECONDS = 10.0


def _read(variable: str) -> bytes | None:
    path = os.environ.get(variable)
    return Path(path).read_bytes() if path else None


def _channel(target: str) -> grpc.Channel:
    ca = _read("SMOKE_CA_FILE")
    if ca is None:
        return grpc.insecure_channel(target)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=_read("SMOKE_CLIENT_KEY_FILE"),
        certificate_chain=_read("SMOKE_CLIENT_CERT_FILE"),
    )
    return grpc.secure_channel(target, credentials)


def main() -> int:
    target = os.environ["SMOKE_TARGET"]
    with _channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=TIMEOUT_SECONDS
        )
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)
        print(f"health of {target}: {status}")
        if health.status != health_pb2.HealthCheckResponse.SERVING:
            return 1
        token = _read("SMOKE_TOKEN_FILE")
        if token is None:
            return 0
        users = user_pb2_grpc.UserServiceStub(channel).ListUsers(
            user_pb2.ListUsersRequest(page_size=1),
            metadata=[("authorization", f"Bearer {token.decode().strip()}")],
            timeout=TIMEOUT_SECONDS,
        )
        print(f"ListUsers as the test token's caller: OK ({len(users.users)} user(s) on the page)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
