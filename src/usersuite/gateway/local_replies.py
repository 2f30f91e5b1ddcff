"""Envoy's own replies (no healthy upstream, timeout, no such path) to REST calls, as the same
google.rpc.Status JSON the API's errors become; gRPC, gRPC-Web and Connect keep theirs."""

from typing import Any

# HTTP status of Envoy's reply -> google.rpc.Code, as google/rpc/code.proto maps them.
CODES = {400: 3, 401: 16, 403: 7, 404: 5, 408: 4, 413: 8, 429: 8, 503: 14, 504: 4}


# A gRPC, gRPC-Web or Connect call's path: /package.Service/Method. A REST path (/v1/...) is
# no such path until the transcoder rewrites it, and then keeps it in x-envoy-original-path.
GRPC_PATH = r"^/[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+/[A-Za-z0-9_]+$"

# Matched on the request as the filters left it (the transcoder may have made a REST call look
# like gRPC already, or not yet, when it refuses the call).
REST_ONLY = {
    "or_filter": {
        "filters": [
            {"header_filter": {"header": {"name": "x-envoy-original-path", "present_match": True}}},
            {"header_filter": {"header": {
                "name": ":path",
                "string_match": {"safe_regex": {"regex": GRPC_PATH}},
                "invert_match": True,
            }}},
        ]
    }
}  # fmt: skip


def _status(status: int) -> dict[str, Any]:
    return {"status_code_filter": {"comparison": {
        "op": "EQ", "value": {"default_value": status, "runtime_key": "gateway.unused"},
    }}}  # fmt: skip


def local_reply_config() -> dict[str, Any]:
    return {
        "mappers": [
            {
                "filter": {"and_filter": {"filters": [_status(status), REST_ONLY]}},
                "body_format_override": {
                    "json_format": {"code": code, "message": "%LOCAL_REPLY_BODY%", "details": []},
                    "content_type": "application/json",
                },
            }
            for status, code in CODES.items()
        ]
    }
