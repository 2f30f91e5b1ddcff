"""Error recovery: every exception leaves as a structured status; unexpected ones are logged."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc

from usersuite.platform.grpc.errors import ErrorCatalog, ErrorSpec, FailedCall
from usersuite.platform.grpc.interceptors.base import Context, UnaryBehavior, UnaryInterceptor

log = logging.getLogger(__name__)


async def abort_with(context: Context, spec: ErrorSpec) -> None:
    """Sends `spec` as the call's status at once (grpc.aio's abort writes it, then raises)."""
    status = spec.to_status()
    await context.abort(status.code, status.details, status.trailing_metadata)


def fail(context: Context, spec: ErrorSpec) -> FailedCall:
    """The call's end as `spec`, to raise: its code and message go on the context now (where the
    span reads them), the status itself is sent by the outermost ErrorInterceptor."""
    context.set_code(spec.code)
    context.set_details(spec.message)
    return FailedCall(spec)


class ErrorInterceptor(UnaryInterceptor):
    """Every exception leaves as a structured status.

    The stack's outermost layer sends it (`sends_status`). An inner one, next to the servicer,
    maps and logs a servicer's exception inside the call's span and raises it on as a
    FailedCall, which no layer between can mistake for its own (a TimeoutError for the deadline).
    """

    def __init__(self, errors: ErrorCatalog, *, sends_status: bool = True) -> None:
        self._errors = errors
        self._sends_status = sends_status

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        async def recover(request: Any, context: Context) -> Any:
            try:
                return await behavior(request, context)
            except (grpc.aio.AbortError, asyncio.CancelledError):
                raise
            except FailedCall as failed:
                if not self._sends_status:
                    raise
                await abort_with(context, failed.spec)
            except Exception as exc:
                spec = self._errors.spec_for(exc)
                if spec.code is grpc.StatusCode.INTERNAL:
                    log.exception("unexpected error in %s", method)
                if not self._sends_status:
                    raise fail(context, spec) from exc
                await abort_with(context, spec)

        return recover
