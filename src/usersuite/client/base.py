"""What every SDK client shares: the channel on the published service config, the token and
trace context on every call, the circuit breaker, and typed errors."""

import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self, cast

import grpc
from opentelemetry import propagate

from usersuite.client.breaker import CircuitBreaker
from usersuite.client.channel import default_timeout, load_service_config, open_channel
from usersuite.client.errors import error_from

# A token, or a function (plain or async) called before every call, e.g. to refresh it.
TokenSupply = str | Callable[[], str] | Callable[[], Awaitable[str]]
Metadata = Iterable[tuple[str, str | bytes]]


class ServiceClient:
    """Every call has a deadline (`deadline` seconds, else the service config timeout), carries the
    token and the current trace context (`traceparent`), passes the circuit breaker, and fails
    with a typed `ServiceError` that carries the ErrorInfo reason and BadRequest fields.

    A subclass names its proto package (whose service config it loads) and binds its stub."""

    package: str

    def __init__(
        self,
        target: str,
        *,
        token: TokenSupply | None = None,
        service_config: Path | None = None,
        breaker: CircuitBreaker | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        config = load_service_config(service_config, self.package)
        self.timeout = default_timeout(config)
        self.breaker = breaker or CircuitBreaker()
        self._token = token
        self._channel = open_channel(target, config, credentials)
        self._bind(self._channel)

    def _bind(self, channel: grpc.aio.Channel) -> None:
        """Makes the subclass's stubs on the channel."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close(None)

    async def _metadata(self) -> Sequence[tuple[str, str]]:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        if self._token is not None:
            token = self._token() if callable(self._token) else self._token
            if inspect.isawaitable(token):
                token = await token
            carrier["authorization"] = f"Bearer {token}"
        return tuple(carrier.items())

    async def _call(self, method: Any, request: Any, deadline: float | None) -> Any:
        self.breaker.before_call()
        try:
            reply = await method(
                request,
                timeout=self.timeout if deadline is None else deadline,
                metadata=await self._metadata(),
            )
        except grpc.aio.AioRpcError as failure:
            self.breaker.record(failure.code())
            # grpc-stubs types metadata entries as objects; at run time they are (key, value).
            trailing = cast(Metadata, failure.trailing_metadata() or ())
            raise error_from(failure.code(), failure.details() or "", trailing) from failure
        self.breaker.record(grpc.StatusCode.OK)
        return reply
