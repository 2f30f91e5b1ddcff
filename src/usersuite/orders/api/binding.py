"""The orders service as the shared gRPC server hosts it."""

from pathlib import Path

import grpc

from order.v1 import order_pb2, order_pb2_grpc
from usersuite.orders.api.errors import ORDER_ERRORS
from usersuite.orders.api.servicer import OrderServicer
from usersuite.orders.service.handlers import OrderHandlers
from usersuite.platform.grpc.binding import ServiceBinding

ORDER_SERVICE = order_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name

READ = "orders.read"
WRITE = "orders.write"
# The scope each method needs; a method left out is denied.
ORDER_METHOD_SCOPES = {
    f"/{ORDER_SERVICE}/GetOrder": READ,
    f"/{ORDER_SERVICE}/ListOrders": READ,
    f"/{ORDER_SERVICE}/CreateOrder": WRITE,
    f"/{ORDER_SERVICE}/CancelOrder": WRITE,
}


def order_service(handlers: OrderHandlers) -> ServiceBinding:
    def add_to_server(server: grpc.aio.Server) -> None:
        order_pb2_grpc.add_OrderServiceServicer_to_server(OrderServicer(handlers), server)

    return ServiceBinding(
        name=ORDER_SERVICE,
        add_to_server=add_to_server,
        errors=ORDER_ERRORS,
        method_scopes=ORDER_METHOD_SCOPES,
        documented_descriptors=Path(order_pb2.__file__).with_name("descriptor_set.json"),
    )
