"""Error recovery: every exception leaves as a structured status; unexpected ones are logged."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc

from usersuite.api.errors import ErrorSpec, spec_for
from usersuite.api.interceptors.base import Context, UnaryBehavior, UnaryInterceptor

log = logging.getLogger(__name__)


async def abort_with(context: Context, spec: ErrorSpec) -> None:
    status = spec.to_status()
    await context.abort(status.code, status.details, status.trailing_metadata)


class ErrorInterceptor(UnaryInterceptor):
    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        async def recover(request: Any, context: Context) -> Any:
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
