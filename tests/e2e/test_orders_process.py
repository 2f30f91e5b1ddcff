"""`usersuite serve orders` as an operator runs it, beside a `usersuite bridge` on orders'
database: the API over a real channel (good and bad input), the saga through NATS with billing
played by the test, and `usersuite saga show`."""

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from nats.aio.client import Client

from order.v1 import order_pb2, order_pb2_grpc
from tests.support.bridge_process import bridge_env, wait_bridge_ready
from tests.support.nats import NatsServer
from tests.support.orders_saga import commands_of, new_order, publish, reserved
from tests.support.processes import Launch, run_shell, run_usersuite, serve_args, server_env
from tests.support.status import failure
from tests.support.tools import describe
from tests.support.waiting import eventually

State = order_pb2.Order.State
PATIENT = {
    "USERSUITE_ORDERS__STEP_TIMEOUT_SECONDS": "600",
    "USERSUITE_ORDERS__MAX_WAIT_SECONDS": "600",
}


@pytest.fixture
def orders_database(empty_database: Callable[[], str]) -> str:
    url = empty_database()
    result = run_usersuite("migrate", "orders", env=server_env(url))
    assert result.returncode == 0, describe(result)
    return url


async def test_serve_orders_runs_the_saga_and_saga_show_prints_it(
    launch: Launch, orders_database: str, nats_server: NatsServer, nc: Client, tmp_path: Path
) -> None:
    env = server_env(orders_database, USERSUITE_NATS_URL=nats_server.url, **PATIENT)
    api = launch(serve_args("orders"), env)
    bridge = launch(["bridge", "orders"], bridge_env(orders_database, nats_server.url))
    ready = await asyncio.to_thread(api.wait_ready)
    assert ready.startswith("usersuite orders ready on")
    assert "order.v1.OrderService/CreateOrder" in ready
    await wait_bridge_ready(bridge)
    # The ready line's sample call works as printed (reflection describes OrderService).
    sample = run_shell(ready.split("try: ", 1)[1], tmp_path)
    assert sample.returncode == 0, describe(sample)
    assert json.loads(sample.stdout)["state"] == "STATE_PENDING"

    async with grpc.aio.insecure_channel(api.target) as channel:
        stub = order_pb2_grpc.OrderServiceStub(channel)
        order = await stub.CreateOrder(new_order(order_id="from-a-process"))
        assert order.state == State.STATE_PENDING

        not_yet = await failure(stub.CancelOrder(order_pb2.CancelOrderRequest(name=order.name)))
        assert not_yet.code == grpc.StatusCode.FAILED_PRECONDITION
        assert not_yet.reason == "ORDER_NOT_CANCELLABLE"
        assert not_yet.metadata["state"] == "STATE_PENDING"

        async def reserve_sent() -> bool:
            return len(await commands_of(nc, "ReserveCredit", order.name)) == 1

        await eventually(reserve_sent, what="ReserveCredit in the stream")
        [command] = await commands_of(nc, "ReserveCredit", order.name)
        await publish(nc, reserved(command))

        async def approved() -> bool:
            got = await stub.GetOrder(order_pb2.GetOrderRequest(name=order.name))
            return bool(got.state == State.STATE_APPROVED)

        await eventually(approved, what="the order approved")
        page = await stub.ListOrders(order_pb2.ListOrdersRequest(user="users/ada-lovelace"))
        assert len(page.orders) == 2  # the sample's order, then this one
        assert page.orders[1].name == order.name

    shown = run_usersuite("saga", "show", order.name, env=server_env(orders_database))
    assert shown.returncode == 0, describe(shown)
    assert "orders/from-a-process  APPROVED" in shown.stdout
    assert "RESERVE_CREDIT" in shown.stdout
    assert "CreditReserved" in shown.stdout
    as_json = run_usersuite("saga", "show", order.name, "--json", env=server_env(orders_database))
    document = json.loads(as_json.stdout)
    [saga] = document["sagas"]
    assert document["state"] == "APPROVED"
    assert [entry["event"] for entry in saga["timeline"]] == ["SENT", "REPLIED"]
    assert {entry["command_id"] for entry in saga["timeline"]} == {command.command_id}


# Each bad CreateOrder and the fields its BadRequest must name (None: at least the empty ones).
BAD_CREATES: list[tuple[order_pb2.CreateOrderRequest, set[str] | None]] = [
    (new_order(user="people/ada"), {"order.user"}),
    (new_order(order_id="Bad_Id"), {"order_id"}),
    (new_order(request_id="not-a-uuid"), {"request_id"}),
    (
        order_pb2.CreateOrderRequest(
            order=order_pb2.Order(
                user="users/ada-lovelace",
                currency_code="euro",
                line_items=[order_pb2.LineItem(sku="has space", quantity=0)],
            )
        ),
        {"order.currency_code", "order.line_items[0].sku", "order.line_items[0].quantity"},
    ),
    (order_pb2.CreateOrderRequest(order=order_pb2.Order(user="users/ada")), None),
]


async def test_bad_input_is_invalid_argument_with_every_field_named(
    launch: Launch, orders_database: str, nats_server: NatsServer
) -> None:
    env = server_env(orders_database, USERSUITE_NATS_URL=nats_server.url, **PATIENT)
    api = launch(serve_args("orders"), env)
    await asyncio.to_thread(api.wait_ready)
    async with grpc.aio.insecure_channel(api.target) as channel:
        stub = order_pb2_grpc.OrderServiceStub(channel)
        for request, fields in BAD_CREATES:
            bad = await failure(stub.CreateOrder(request))
            assert bad.code == grpc.StatusCode.INVALID_ARGUMENT
            assert bad.reason == "VALIDATION_FAILED"
            assert bad.domain == "usersuite.order.v1"
            if fields is not None:
                assert set(bad.violations) == fields
            else:
                assert {"order.line_items", "order.currency_code"} <= set(bad.violations)
        missing = await failure(stub.GetOrder(order_pb2.GetOrderRequest(name="orders/nowhere")))
        assert missing.code == grpc.StatusCode.NOT_FOUND
        assert missing.reason == "ORDER_NOT_FOUND"
        malformed = await failure(stub.GetOrder(order_pb2.GetOrderRequest(name="users/x")))
        assert set(malformed.violations) == {"name"}
        token = await failure(stub.ListOrders(order_pb2.ListOrdersRequest(page_token="junk")))
        assert token.reason == "INVALID_PAGE_TOKEN"
        stale = await failure(
            stub.CancelOrder(order_pb2.CancelOrderRequest(name="orders/nowhere", etag="x"))
        )
        assert stale.code == grpc.StatusCode.NOT_FOUND


def test_saga_show_refuses_a_bad_name_in_one_line(orders_database: str) -> None:
    result = run_usersuite("saga", "show", "users/ada", env=server_env(orders_database))
    assert result.returncode == 2, describe(result)
    assert result.stderr.strip().count("\n") == 0
    assert "not an order name" in result.stderr
    unknown = run_usersuite("saga", "show", "orders/nowhere", env=server_env(orders_database))
    assert unknown.returncode == 2, describe(unknown)
    assert "no order orders/nowhere" in unknown.stderr


def test_serve_orders_needs_nats(orders_database: str) -> None:
    result = run_usersuite("serve", "orders", env=server_env(orders_database))
    assert result.returncode == 2, describe(result)
    assert "nats_url" in result.stderr
