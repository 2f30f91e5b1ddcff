"""Error recovery: every exception leaves as a structured status; unexpected ones are logged."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc

from usersuite.api.errors import ErrorSpec, spec_for
from usersuite.api.interceptors.base import Continuation, UnaryBehavior, wrap_unary

log = logging.getLogger(__name__)


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], spec: ErrorSpec) -> None:
    status = spec.to_status()
    await context.abort(status.code, status.details, status.trailing_metadata)


class ErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    # grpc returns UNIMPLEMENTED for a None handler; grpc-stubs omits the None.
    async def intercept_service(  # type: ignore[override]
        self,
        continuation: Continuation,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method

        def wrap(behavior: UnaryBehavior) -> UnaryBehavior:
            async def recover(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                try:
                    return await behavior(request, context)
                except (grpc.aio.AbortError, asyncio.CancelledError):
                    raise
                except Exception as exc:
                    spec = spec_for(exc)
                    if spec.code is grpc.StatusCode.INTERNAL:
                        log.exception("unexpected error in %s", method)
                    await abort_with(context, spec)

            return recover

        # None (an unknown method) passes through: grpc answers UNIMPLEMENTED.
        return wrap_unary(await continuation(handler_call_details), wrap)
