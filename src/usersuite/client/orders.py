"""OrderClient: a typed async client of order.v1.OrderService, with a wait for the saga."""

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import grpc

from order.v1 import order_pb2, order_pb2_grpc
from usersuite.client.base import ServiceClient

# Polling GetOrder while its saga runs: the first look soon, then less often.
SETTLE_FIRST_DELAY_SECONDS = 0.02
SETTLE_MAX_DELAY_SECONDS = 0.5


def line_item(sku: str, quantity: int, unit_price_minor: int) -> order_pb2.LineItem:
    """A line of an order; prices are integer minor units (cents) of the order's currency."""
    return order_pb2.LineItem(sku=sku, quantity=quantity, unit_price_minor=unit_price_minor)


class OrderNotSettled(TimeoutError):
    """The order was still PENDING when `wait_until_settled` gave up."""


class OrderClient(ServiceClient):
    """order.v1.OrderService; see ServiceClient for deadlines, tokens, the breaker and errors."""

    package = "order.v1"

    def _bind(self, channel: grpc.aio.Channel) -> None:
        self._stub = order_pb2_grpc.OrderServiceStub(channel)

    async def create_order(
        self,
        user: str,
        line_items: Sequence[order_pb2.LineItem],
        *,
        currency_code: str = "EUR",
        order_id: str = "",
        request_id: str = "",
        deadline: float | None = None,
    ) -> order_pb2.Order:
        """Places an order for `user` ("users/ID"); it is PENDING until billing answers (see
        `wait_until_settled`). A `request_id` (a UUID) makes retries safe (AIP-155)."""
        request = order_pb2.CreateOrderRequest(
            order=order_pb2.Order(user=user, line_items=line_items, currency_code=currency_code),
            order_id=order_id,
            request_id=request_id,
        )
        order: order_pb2.Order = await self._call(self._stub.CreateOrder, request, deadline)
        return order

    async def get_order(self, name: str, *, deadline: float | None = None) -> order_pb2.Order:
        request = order_pb2.GetOrderRequest(name=name)
        order: order_pb2.Order = await self._call(self._stub.GetOrder, request, deadline)
        return order

    async def list_orders(
        self,
        *,
        user: str = "",
        page_size: int = 0,
        page_token: str = "",
        deadline: float | None = None,
    ) -> order_pb2.ListOrdersResponse:
        request = order_pb2.ListOrdersRequest(user=user, page_size=page_size, page_token=page_token)
        page: order_pb2.ListOrdersResponse = await self._call(
            self._stub.ListOrders, request, deadline
        )
        return page

    async def pages(
        self, *, user: str = "", page_size: int = 0, deadline: float | None = None
    ) -> AsyncIterator[order_pb2.ListOrdersResponse]:
        """Every page of ListOrders, following next_page_token to the end."""
        token = ""
        while True:
            page = await self.list_orders(
                user=user, page_size=page_size, page_token=token, deadline=deadline
            )
            yield page
            token = page.next_page_token
            if not token:
                return

    async def cancel_order(
        self, name: str, *, etag: str = "", request_id: str = "", deadline: float | None = None
    ) -> order_pb2.Order:
        """Cancels an APPROVED order (its credit is released); otherwise FailedPrecondition
        with reason ORDER_NOT_CANCELLABLE."""
        request = order_pb2.CancelOrderRequest(name=name, etag=etag, request_id=request_id)
        order: order_pb2.Order = await self._call(self._stub.CancelOrder, request, deadline)
        return order

    async def wait_until_settled(self, name: str, *, within: float = 10.0) -> order_pb2.Order:
        """GetOrder until the order is no longer PENDING (its saga decided), at most `within`
        seconds; raises OrderNotSettled with the order still pending."""
        give_up = time.monotonic() + within
        delay = SETTLE_FIRST_DELAY_SECONDS
        while True:
            order = await self.get_order(name)
            if order.state != order_pb2.Order.STATE_PENDING:
                return order
            left = give_up - time.monotonic()
            if left <= 0:
                raise OrderNotSettled(f"{name} is still PENDING after {within:g}s")
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, SETTLE_MAX_DELAY_SECONDS)
