"""OrderService's methods need the orders scopes: a users token reads no orders."""

from pathlib import Path

import grpc
import jwt

from order.v1 import order_pb2
from tests.support.nats import NatsServer
from tests.support.orders_saga import new_order, orders_settings, serving_orders
from tests.support.status import failure
from tests.support.tokens import AUDIENCE, HS_SECRET, ISSUER, claims
from usersuite.orders.adapters.db.schema import migrations


def bearer(scope: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {jwt.encode(claims(scope=scope), HS_SECRET, 'HS256')}"),)


async def test_orders_methods_need_the_orders_scopes(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    migrations.upgrade(url)
    auth = {"enabled": True, "issuer": ISSUER, "audience": AUDIENCE, "hs256_secret": HS_SECRET}
    settings = orders_settings(url, nats_server.url, other={"auth": auth})
    async with serving_orders(settings, background=False) as api:
        listing = order_pb2.ListOrdersRequest()
        denied = await failure(api.stub.ListOrders(listing, metadata=bearer("users.read")))
        assert denied.code == grpc.StatusCode.PERMISSION_DENIED
        assert denied.metadata["required_scope"] == "orders.read"
        assert denied.domain == "usersuite.order.v1"

        reader = bearer("orders.read")
        await api.stub.ListOrders(listing, metadata=reader)
        refused = await failure(api.stub.CreateOrder(new_order(), metadata=reader))
        assert refused.metadata["required_scope"] == "orders.write"
        created = await api.stub.CreateOrder(new_order(), metadata=bearer("orders.write"))
        assert created.state == order_pb2.Order.State.STATE_PENDING
        unauthenticated = await failure(api.stub.ListOrders(listing))
        assert unauthenticated.code == grpc.StatusCode.UNAUTHENTICATED
