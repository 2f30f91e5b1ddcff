"""Requests that cannot be handled at all get a documented status instead of grpc's default.

An oversized request gets RESOURCE_EXHAUSTED (MESSAGE_TOO_LARGE): grpc's own receive limit,
set higher as a hard stop, would answer with a bare status. Bytes that are not a valid message
of the method's request type get INVALID_ARGUMENT (VALIDATION_FAILED) instead of grpc's INTERNAL.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from usersuite.platform.domain.errors import FieldViolation, ValidationFailed
from usersuite.platform.grpc.errors import MESSAGE_TOO_LARGE, ErrorCatalog
from usersuite.platform.grpc.interceptors.base import (
    Context,
    Deserializer,
    UnaryBehavior,
    UnaryInterceptor,
)
from usersuite.platform.grpc.interceptors.errors import fail

# grpc's transport limit is this many times the configured one.
HARD_LIMIT_FACTOR = 4


@dataclass(frozen=True)
class _Oversized:
    size: int


@dataclass(frozen=True)
class _Undecodable:
    why: str


class RequestGuardInterceptor(UnaryInterceptor):
    def __init__(self, max_bytes: int, errors: ErrorCatalog) -> None:
        self._errors = errors
        self._max = max_bytes

    def decode(self, method: str, deserialize: Deserializer) -> Deserializer:
        def checked(raw: bytes) -> Any:
            if len(raw) > self._max:
                return _Oversized(len(raw))
            try:
                return deserialize(raw)
            except (DecodeError, ValueError) as exc:
                return _Undecodable(str(exc) or type(exc).__name__)

        return checked

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        # A plain function: a good request goes on without a coroutine of its own (as_handler).
        def limited(request: Any, context: Context) -> Awaitable[Any]:
            if isinstance(request, _Oversized):
                message = f"request of {request.size} bytes exceeds the limit of {self._max} bytes"
                spec = self._errors.spec(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    MESSAGE_TOO_LARGE,
                    message,
                    {"max_bytes": str(self._max)},
                )
                raise fail(context, spec)
            if isinstance(request, _Undecodable):
                violation = FieldViolation("request", f"not a valid request message: {request.why}")
                raise fail(context, self._errors.spec_for(ValidationFailed([violation])))
            return behavior(request, context)

        return limited
