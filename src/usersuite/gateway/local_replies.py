"""Envoy's own replies (no healthy upstream, timeout, no such path) to REST calls, as the same
google.rpc.Status JSON the API's errors become; gRPC, gRPC-Web and Connect keep theirs."""

from typing import Any

# HTTP status of Envoy's reply -> google.rpc.Code, as google/rpc/code.proto maps them.
CODES = {400: 3, 401: 16, 403: 7, 404: 5, 408: 4, 413: 8, 429: 8, 503: 14, 504: 4}


def _has(header: str, *, invert: bool = False, prefix: str = "") -> dict[str, Any]:
    match = {"string_match": {"prefix": prefix}} if prefix else {"present_match": True}
    return {"header_filter": {"header": {"name": header, **match, "invert_match": invert}}}


# Matched on the request as the filters left it. The transcoder turns a REST call into gRPC
# (content-type, te: trailers) and keeps its path in x-envoy-original-path; a REST call that
# was not transcoded has none of the headers only gRPC, gRPC-Web and Connect clients send.
REST_ONLY = {
    "or_filter": {
        "filters": [
            _has("x-envoy-original-path"),
            {"and_filter": {"filters": [
                _has("te", invert=True),
                _has("x-grpc-web", invert=True),
                _has("connect-protocol-version", invert=True),
                _has("content-type", invert=True, prefix="application/grpc"),
                _has("content-type", invert=True, prefix="application/connect"),
            ]}},
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
