"""One upstream cluster per gRPC service: HTTP/2, gRPC health checks, optional (m)TLS."""

import re
from typing import Any

from usersuite.platform.config import UpstreamSettings, parse_address

CONNECT_TIMEOUT_SECONDS = 5
HEALTH_INTERVAL_SECONDS = 5
HEALTH_TIMEOUT_SECONDS = 2


def cluster_name(service: str) -> str:
    """`user.v1.UserService` -> `user_v1_UserService` (stats names keep dots for scopes)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", service)


def dial(host: str) -> str:
    """A wildcard bind address as a client dials it."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104


def upstream_tls(upstream: UpstreamSettings, host: str) -> dict[str, Any]:
    context: dict[str, Any] = {"alpn_protocols": ["h2"]}
    if upstream.ca_file is not None:
        context["validation_context"] = {
            "trusted_ca": {"filename": str(upstream.ca_file)},
            "match_typed_subject_alt_names": [
                {"san_type": "DNS", "matcher": {"exact": upstream.server_name or host}}
            ],
        }
    if upstream.cert_file is not None and upstream.key_file is not None:
        context["tls_certificates"] = [
            {
                "certificate_chain": {"filename": str(upstream.cert_file)},
                "private_key": {"filename": str(upstream.key_file)},
            }
        ]
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
            "UpstreamTlsContext",
            "sni": upstream.server_name or host,
            "common_tls_context": context,
        },
    }


def cluster(service: str, upstream: UpstreamSettings, default_address: str) -> dict[str, Any]:
    """The service's cluster; `default_address` when the upstream names none (the API's)."""
    host, port = parse_address(upstream.address or default_address)
    host = dial(host)
    endpoint = {"socket_address": {"address": host, "port_value": port}}
    built: dict[str, Any] = {
        "name": cluster_name(service),
        # Resolves a host name (a Kubernetes Service) again as it changes; IPs as they are.
        "type": "STRICT_DNS",
        # IPv4 first, as the API's default listen address is (localhost is ::1 first otherwise).
        "dns_lookup_family": "V4_PREFERRED",
        "connect_timeout": f"{CONNECT_TIMEOUT_SECONDS}s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3."
                "HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": cluster_name(service),
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": endpoint}}]}],
        },
        # The API's health service answers per service: NOT_SERVING while its database is
        # down, so Envoy answers 503 (UNAVAILABLE) at once instead of waiting on it.
        "health_checks": [
            {
                "timeout": f"{HEALTH_TIMEOUT_SECONDS}s",
                "interval": f"{HEALTH_INTERVAL_SECONDS}s",
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                "grpc_health_check": {"service_name": service},
            }
        ],
    }
    if upstream.tls:
        built["transport_socket"] = upstream_tls(upstream, host)
    return built
