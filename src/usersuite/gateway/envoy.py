"""Envoy's bootstrap configuration for the gateway, built from the settings."""

from pathlib import Path
from typing import Any

from usersuite.gateway.clusters import cluster, cluster_name, dial
from usersuite.gateway.console import MAX_BODY_BYTES, console_routes, default_console_dir
from usersuite.gateway.descriptors import default_descriptor_set, services_in
from usersuite.gateway.filters import CORS, cors_policy, http_filters, origins_regex
from usersuite.gateway.local_replies import local_reply_config
from usersuite.platform.config import Settings, UpstreamSettings, parse_address

HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
# A path that is no REST binding and no gRPC method (a REST client gets it as a google.rpc.Status,
# see local_replies.py).
NOT_FOUND = "no method is bound to this path"


def socket_address(address: str) -> dict[str, Any]:
    host, port = parse_address(address)
    return {"socket_address": {"address": host, "port_value": port}}


def service_route(service: str, settings: Settings) -> dict[str, Any]:
    """A service's calls, by their gRPC path, to its cluster. The deadline the client sends
    (grpc-timeout, which gRPC-Web and the transcoded REST call carry too) bounds the call up to
    the API's own maximum; a call without one gets the gateway's request timeout."""
    return {
        "match": {"prefix": f"/{service}/"},
        "route": {
            "cluster": cluster_name(service),
            "timeout": f"{settings.gateway.request_timeout_seconds}s",
            "max_stream_duration": {
                "grpc_timeout_header_max": f"{settings.limits.max_deadline_seconds}s"
            },
        },
    }


def not_found_route() -> dict[str, Any]:
    """Every other path: a JSON NOT_FOUND. It also gives the REST paths a route before the
    transcoder rewrites them to their gRPC method (and CORS preflights a policy to answer)."""
    return {
        "match": {"prefix": "/"},
        "direct_response": {"status": 404, "body": {"inline_string": NOT_FOUND}},
    }


def preflight_route(settings: Settings, cluster: str) -> dict[str, Any]:
    """A CORS preflight from an allowed origin. Envoy's CORS filter answers it only on a route
    that forwards (not on a direct response), and answers it itself: the cluster is never
    called. A preflight from another origin falls through to the JSON NOT_FOUND."""
    return {
        "match": {
            "prefix": "/",
            "headers": [
                {"name": ":method", "string_match": {"exact": "OPTIONS"}},
                {"name": "access-control-request-method", "present_match": True},
                {"name": "origin",
                 "string_match": {"safe_regex": {"regex": origins_regex(settings.gateway)}}},
            ],
        },
        "route": {"cluster": cluster},
    }  # fmt: skip


def virtual_host(settings: Settings, services: list[str]) -> dict[str, Any]:
    routes = [service_route(s, settings) for s in services]
    if settings.gateway.console:
        routes += console_routes(settings.gateway.console_dir or default_console_dir())
    host: dict[str, Any] = {"name": "api", "domains": ["*"]}
    if settings.gateway.cors_allowed_origins and services:
        host["typed_per_filter_config"] = {CORS: cors_policy(settings.gateway)}
        routes.append(preflight_route(settings, cluster_name(services[0])))
    host["routes"] = [*routes, not_found_route()]
    return host


def listener(settings: Settings, descriptor_set: Path, services: list[str]) -> dict[str, Any]:
    manager = {
        "@type": f"{HCM}.HttpConnectionManager",
        "stat_prefix": "gateway",
        "codec_type": "AUTO",
        "normalize_path": True,
        "merge_slashes": True,
        # OpenAPI clients escape the slash of a resource name in a path parameter
        # (/v1/users%2F123); the transcoder matches `{name=users/*}` on the unescaped path.
        "path_with_escaped_slashes_action": "UNESCAPE_AND_FORWARD",
        "route_config": {
            "name": "routes",
            "virtual_hosts": [virtual_host(settings, services)],
            # The console's files are direct responses, which Envoy caps at 4 KiB by default.
            "max_direct_response_body_size_bytes": MAX_BODY_BYTES,
        },
        "http_filters": http_filters(descriptor_set, services),
        "local_reply_config": local_reply_config(),
    }
    return {
        "name": "gateway",
        "address": socket_address(settings.gateway.listen),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": manager,
                    }
                ]
            }
        ],
    }


def api_address(settings: Settings, port: int | None = None) -> str:
    """How the gateway dials the API: its `listen` address, on `port` when given (dev's port)."""
    host, configured = parse_address(settings.listen)
    host = dial(host)
    return f"[{host}]:{port or configured}" if ":" in host else f"{host}:{port or configured}"


def envoy_config(
    settings: Settings, *, api_port: int | None = None, descriptor_set: Path | None = None
) -> dict[str, Any]:
    """The bootstrap: the gateway's listener and admin, and one cluster per gRPC service of the
    descriptor set. A service goes to its configured upstream, or to the API (`listen`, with
    `api_port` when the API picked its port)."""
    gateway = settings.gateway
    descriptor_set = descriptor_set or gateway.descriptor_set or default_descriptor_set()
    services = services_in(descriptor_set)
    unknown = sorted(set(gateway.upstreams) - set(services))
    if unknown:
        raise ValueError(
            f"gateway.upstreams names {', '.join(unknown)}, which the descriptor set "
            f"{descriptor_set} does not declare (it has {', '.join(services)})"
        )
    api = api_address(settings, api_port)
    return {
        "admin": {"address": socket_address(gateway.admin_listen)},
        "static_resources": {
            "listeners": [listener(settings, descriptor_set, services)],
            "clusters": [
                cluster(s, gateway.upstreams.get(s, UpstreamSettings()), api) for s in services
            ],
        },
    }
