"""OrderService over the handlers: maps requests to commands and domain orders to protos."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from order.v1 import order_pb2, order_pb2_grpc
from usersuite.orders.api.mapping import line_items_from_proto, order_id_from_name, order_to_proto
from usersuite.orders.service import commands
from usersuite.orders.service.handlers import OrderHandlers
from usersuite.platform.service import request_context

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


class OrderServicer(order_pb2_grpc.OrderServiceServicer):
    def __init__(self, handlers: OrderHandlers) -> None:
        self._handlers = handlers

    async def CreateOrder(  # noqa: N802 - generated method names
        self, request: order_pb2.CreateOrderRequest, context: Context
    ) -> order_pb2.Order:
        order = await self._handlers.create_order(
            commands.CreateOrder(
                user=request.order.user,
                line_items=line_items_from_proto(request.order),
                currency_code=request.order.currency_code,
                order_id=request.order_id,
                request_id=request.request_id,
                principal=request_context.principal.get().subject,
            )
        )
        return order_to_proto(order)

    async def GetOrder(  # noqa: N802
        self, request: order_pb2.GetOrderRequest, context: Context
    ) -> order_pb2.Order:
        order = await self._handlers.get_order(commands.GetOrder(order_id_from_name(request.name)))
        return order_to_proto(order)

    async def ListOrders(  # noqa: N802
        self, request: order_pb2.ListOrdersRequest, context: Context
    ) -> order_pb2.ListOrdersResponse:
        page = await self._handlers.list_orders(
            commands.ListOrders(
                page_size=request.page_size, page_token=request.page_token, user=request.user
            )
        )
        return order_pb2.ListOrdersResponse(
            orders=[order_to_proto(order) for order in page.orders],
            next_page_token=page.next_page_token,
        )

    async def CancelOrder(  # noqa: N802
        self, request: order_pb2.CancelOrderRequest, context: Context
    ) -> order_pb2.Order:
        order = await self._handlers.cancel_order(
            commands.CancelOrder(
                order_id=order_id_from_name(request.name),
                etag=request.etag,
                request_id=request.request_id,
                principal=request_context.principal.get().subject,
            )
        )
        return order_to_proto(order)
