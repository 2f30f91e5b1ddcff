"""The channel every SDK client uses: the published gRPC service config (retryPolicy for
UNAVAILABLE with exponential backoff and jitter, the method timeout, round_robin over the
addresses of a `dns:///` target) and HTTP/2 keepalive."""

import json
from importlib import resources
from pathlib import Path
from typing import Any

import grpc

SERVICE_CONFIG_NAME = "service_config.json"
# The wheel carries each package's file beside this module (service_configs/user.v1.json); a
# source checkout has them in the contract.
PACKAGED_CONFIGS = "service_configs"
SOURCE_TREE_PROTO = Path(__file__).resolve().parents[3] / "proto"
KEEPALIVE_TIME_MS = 60_000
KEEPALIVE_TIMEOUT_MS = 20_000


def load_service_config(path: Path | None = None, package: str = "user.v1") -> dict[str, Any]:
    """A package's published service config: from `path`, the installed package or the
    source tree."""
    if path is None:
        packaged = resources.files("usersuite.client") / PACKAGED_CONFIGS / f"{package}.json"
        source = SOURCE_TREE_PROTO.joinpath(*package.split("."), SERVICE_CONFIG_NAME)
        text = packaged.read_text() if packaged.is_file() else source.read_text()
    else:
        text = path.read_text()
    config: dict[str, Any] = json.loads(text)
    return config


def default_timeout(config: dict[str, Any]) -> float:
    """The method config's timeout in seconds (`"5s"` -> 5.0)."""
    return float(str(config["methodConfig"][0]["timeout"]).removesuffix("s"))


def open_channel(
    target: str,
    config: dict[str, Any],
    credentials: grpc.ChannelCredentials | None = None,
) -> grpc.aio.Channel:
    options = [
        ("grpc.service_config", json.dumps(config)),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
    ]
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, credentials, options=options)
