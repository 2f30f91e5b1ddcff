"""`python -m bench.server serve ...`: `usersuite serve` with interceptor layers left out.

Only the bench prices layers this way, so the product's settings have no such switch: without
these layers errors go unmapped, calls are unbounded by deadlines and requests unguarded.
(Authentication and rate limiting have real settings of their own.) The layers to leave out
come from BENCH_SKIP_INTERCEPTORS, a JSON list; not a USERSUITE_* name, which the server
would refuse as unknown in production mode.
"""

import sys
from typing import Any, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from usersuite import cli
from usersuite.platform.grpc import server
from usersuite.platform.grpc.interceptors.chain import build_interceptors
from usersuite.platform.grpc.interceptors.deadline import DeadlineInterceptor
from usersuite.platform.grpc.interceptors.errors import ErrorInterceptor
from usersuite.platform.grpc.interceptors.observability import ObservabilityInterceptor
from usersuite.platform.grpc.interceptors.request_guard import RequestGuardInterceptor
from usersuite.platform.grpc.interceptors.trace_context import TraceContextInterceptor

Interceptor = Literal["errors", "tracing", "observability", "deadline", "request_guard"]
# The bench's servers run with tracing off, where the tracing layer carries trace context only.
LAYERS: dict[Interceptor, type] = {
    "errors": ErrorInterceptor,
    "tracing": TraceContextInterceptor,
    "observability": ObservabilityInterceptor,
    "deadline": DeadlineInterceptor,
    "request_guard": RequestGuardInterceptor,
}
SKIP_VARIABLE = "BENCH_SKIP_INTERCEPTORS"


class BenchSettings(BaseSettings):
    """For `make bench` only: the interceptor layers a server leaves out."""

    model_config = SettingsConfigDict(env_prefix="BENCH_", frozen=True, extra="ignore")

    skip_interceptors: frozenset[Interceptor] = frozenset()


def without(stack: list[Any], skipped: frozenset[Interceptor]) -> list[Any]:
    """The stack without the interceptors of the skipped layers."""
    left_out = tuple(LAYERS[name] for name in skipped)
    return [interceptor for interceptor in stack if not isinstance(interceptor, left_out)]


def main() -> int:
    skipped = BenchSettings().skip_interceptors
    # `usersuite serve` builds its stack through this name (imported by the server module).
    server.build_interceptors = (  # type: ignore[attr-defined]
        lambda *args, **kwargs: without(build_interceptors(*args, **kwargs), skipped)
    )
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
