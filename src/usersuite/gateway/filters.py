"""The HTTP filters of the gateway's listener, in the order Envoy runs them."""

import re
from pathlib import Path
from typing import Any

from usersuite.gateway.connect_errors import connect_error_details
from usersuite.platform.config import GatewaySettings

TYPES = "type.googleapis.com/envoy.extensions.filters.http"
CORS = "envoy.filters.http.cors"
# What browsers may send and read: the bearer token, gRPC-Web's and Connect's own headers, the
# deadline, and the gRPC status trailers (gRPC-Web puts them in headers for a unary error).
ALLOW_HEADERS = (
    "authorization,content-type,grpc-timeout,x-grpc-web,x-user-agent,x-request-id,"
    "connect-protocol-version,connect-timeout-ms,traceparent"
)
EXPOSE_HEADERS = "grpc-status,grpc-message,grpc-status-details-bin,x-request-id"
CORS_MAX_AGE_SECONDS = 86400


def origin_match(origin: str) -> dict[str, Any]:
    """An allowed origin, exactly; `*` is any origin."""
    return {"safe_regex": {"regex": ".*"}} if origin == "*" else {"exact": origin}


def origins_regex(gateway: GatewaySettings) -> str:
    """The allowed origins as one RE2 expression (for a route's header match)."""
    origins = gateway.cors_allowed_origins
    return ".*" if "*" in origins else "^(" + "|".join(re.escape(o) for o in origins) + ")$"


def cors_policy(gateway: GatewaySettings) -> dict[str, Any]:
    """The virtual host's CORS policy: only the configured origins, exactly."""
    return {
        "@type": f"{TYPES}.cors.v3.CorsPolicy",
        "allow_origin_string_match": [origin_match(o) for o in gateway.cors_allowed_origins],
        "allow_methods": "GET,POST,PATCH,PUT,DELETE,OPTIONS",
        "allow_headers": ALLOW_HEADERS,
        "expose_headers": EXPOSE_HEADERS,
        "max_age": str(CORS_MAX_AGE_SECONDS),
    }


def transcoder(descriptor_set: Path, services: list[str]) -> dict[str, Any]:
    """REST/JSON to gRPC by the google.api.http bindings of the descriptor set."""
    return {
        "name": "envoy.filters.http.grpc_json_transcoder",
        "typed_config": {
            "@type": f"{TYPES}.grpc_json_transcoder.v3.GrpcJsonTranscoder",
            "proto_descriptor": str(descriptor_set),
            "services": services,
            # As the OpenAPI document describes the bodies: proto field names, enums by name.
            "print_options": {
                "add_whitespace": False,
                "always_print_primitive_fields": True,
                "always_print_enums_as_ints": False,
                "preserve_proto_field_names": True,
            },
            # An error's body is the google.rpc.Status as JSON (code, message, details with
            # ErrorInfo, BadRequest, RetryInfo and their @type), its HTTP status google.rpc.Code's.
            "convert_grpc_status": True,
            # Query parameters that name no request field are refused, not ignored: a typo in
            # `update_mask` or `etag` must not turn into an unconditional write.
            "request_validation_options": {
                "reject_unknown_method": False,
                "reject_unknown_query_parameters": True,
            },
            "case_insensitive_enum_parsing": True,
        },
    }


def http_filters(descriptor_set: Path, services: list[str]) -> list[dict[str, Any]]:
    """CORS answers preflights first; gRPC-Web and Connect become gRPC before the transcoder
    looks at the request (it passes gRPC through), and the router sends it upstream. Responses
    pass the filters in reverse: the Lua filter sees a Connect error after the bridge made it."""
    return [
        {"name": CORS, "typed_config": {"@type": f"{TYPES}.cors.v3.Cors"}},
        {
            "name": "envoy.filters.http.grpc_web",
            "typed_config": {"@type": f"{TYPES}.grpc_web.v3.GrpcWeb"},
        },
        connect_error_details(),
        {
            "name": "envoy.filters.http.connect_grpc_bridge",
            "typed_config": {"@type": f"{TYPES}.connect_grpc_bridge.v3.FilterConfig"},
        },
        transcoder(descriptor_set, services),
        {
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": f"{TYPES}.router.v3.Router"},
        },
    ]
