"""Deadlines: a default for calls without one, a cap for long ones, and a bound on the work."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from usersuite.platform.config.groups import LimitSettings
from usersuite.platform.grpc.errors import ErrorCatalog
from usersuite.platform.grpc.interceptors.base import Context, UnaryBehavior, UnaryInterceptor
from usersuite.platform.grpc.interceptors.errors import fail
from usersuite.platform.service import request_context
from usersuite.platform.service.errors import DeadlineExceeded


class DeadlineInterceptor(UnaryInterceptor):
    """Runs each call under min(client deadline or default, maximum).

    The budget is published in a contextvar, so the unit of work can bound each database
    statement by it (PostgreSQL statement_timeout): an expired call stops using the database.
    A timer of ours bounds the call only where the budget is not the client's own deadline
    (none, or above the cap): grpc itself cancels a call whose client deadline passes.
    """

    def __init__(self, limits: LimitSettings, errors: ErrorCatalog) -> None:
        self._errors = errors
        self._default = limits.default_deadline_seconds
        self._max = limits.max_deadline_seconds
        self._min = limits.min_deadline_seconds

    def budget(self, remaining: float | None) -> float:
        """The call's budget from the time its client left it (None or huge: no deadline)."""
        if remaining is None or remaining > 1e9:  # no deadline: grpc reports "infinite"
            return self._default
        return min(remaining, self._max)

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        async def bounded(request: Any, context: Context) -> Any:
            remaining = context.time_remaining()
            if remaining is not None and remaining < self._min:
                left = f"{max(remaining, 0.0) * 1000:.2f} ms"
                too_short = DeadlineExceeded(
                    f"the call arrived with {left} left, less than the "
                    f"{self._min * 1000:g} ms any call needs"
                )
                raise fail(context, self._errors.spec_for(too_short))
            budget = self.budget(remaining)
            token = request_context.deadline.set(time.monotonic() + budget)
            try:
                if budget == remaining:
                    # The client's own deadline: grpc cancels the call when it passes (and the
                    # client sees DEADLINE_EXCEEDED), so no timer of ours needs to run.
                    return await behavior(request, context)
                async with asyncio.timeout(budget):
                    return await behavior(request, context)
            except TimeoutError:
                raise fail(context, self._errors.spec_for(DeadlineExceeded())) from None
            finally:
                request_context.deadline.reset(token)

        return bounded
