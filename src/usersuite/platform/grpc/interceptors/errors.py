"""Error recovery: every exception leaves as a structured status; unexpected ones are logged."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc

from usersuite.platform.grpc.errors import ErrorCatalog, ErrorSpec
from usersuite.platform.grpc.interceptors.base import Context, UnaryBehavior, UnaryInterceptor

log = logging.getLogger(__name__)


async def abort_with(context: Context, spec: ErrorSpec) -> None:
    status = spec.to_status()
    await context.abort(status.code, status.details, status.trailing_metadata)


class ErrorInterceptor(UnaryInterceptor):
    def __init__(self, errors: ErrorCatalog) -> None:
        self._errors = errors

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        async def recover(request: Any, context: Context) -> Any:
            try:
                return await behavior(request, context)
            except (grpc.aio.AbortError, asyncio.CancelledError):
                raise
            except Exception as exc:
                spec = self._errors.spec_for(exc)
                if spec.code is grpc.StatusCode.INTERNAL:
                    log.exception("unexpected error in %s", method)
                await abort_with(context, spec)

        return recover
