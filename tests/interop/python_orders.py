"""The scenario's order flow with the Python SDK: the subject user's account (BillingClient) and
orders whose total it reserves (OrderClient, its wait_until_settled included)."""

import uuid
from typing import Any

from billing.v1 import billing_pb2
from order.v1 import order_pb2
from tests.interop.expectations import Outcome, error_outcome, service_of
from usersuite.client import (
    BillingClient,
    OrderClient,
    OrderNotSettled,
    ServiceError,
    line_item,
)

Step = dict[str, Any]


def account_values(account: billing_pb2.Account) -> dict[str, str]:
    return {
        "state": billing_pb2.Account.State.Name(account.state),
        "reserved_minor": str(account.reserved_minor),
        "credit_limit_minor": str(account.credit_limit_minor),
    }


def order_values(order: order_pb2.Order) -> dict[str, str]:
    return {
        "state": order_pb2.Order.State.Name(order.state),
        "rejection_reason": order_pb2.Order.RejectionReason.Name(order.rejection_reason),
        "total_minor": str(order.total_minor),
    }


class OrderSteps:
    """The order and billing steps; a client is None when its service has no target."""

    def __init__(self, orders: OrderClient | None, billing: BillingClient | None, run_id: str):
        self.orders, self.billing, self.run_id = orders, billing, run_id
        self.account = billing_pb2.Account()
        self.labelled: dict[str, order_pb2.Order] = {}
        self.request_id = ""

    def serves(self, step: Step) -> bool:
        return (self.orders if service_of(step) == "orders" else self.billing) is not None

    async def run(self, step: Step, subject: str, deadline: float | None) -> tuple[Outcome, str]:
        """A failed call's status is its outcome; a returned string a problem."""
        try:
            values, problem = await getattr(self, step["call"])(step, subject, deadline)
        except ServiceError as error:
            return error_outcome(error), ""
        except OrderNotSettled as error:
            return {"code": "OK"}, str(error)
        return {"code": "OK", "values": values}, problem

    def next_request_id(self, step: Step) -> str:
        if step.get("request_id") == "fresh":
            self.request_id = str(uuid.uuid4())
        elif step.get("request_id") == "none":
            self.request_id = ""
        return self.request_id

    async def GetAccount(
        self, step: Step, subject: str, deadline: Any
    ) -> tuple[dict[str, str], str]:
        assert self.billing is not None
        name = subject.replace("users/", "accounts/", 1)
        self.account = await self.billing.get_account(name, deadline=deadline)
        return account_values(self.account), ""

    async def UpdateAccount(
        self, step: Step, subject: str, deadline: Any
    ) -> tuple[dict[str, str], str]:
        assert self.billing is not None
        assert step["update_mask"] == ["credit_limit_minor"], "the SDK sets this mask itself"
        if not self.account.name:
            return {}, "no account seen yet: an earlier GetAccount step failed"
        self.account = await self.billing.set_credit_limit(
            self.account.name,
            step["credit_limit_minor"],
            etag=self.account.etag if step.get("etag") == "current" else "",
            deadline=deadline,
        )
        return account_values(self.account), ""

    def keep(self, step: Step, order: order_pb2.Order) -> dict[str, str]:
        if "order" in step:
            self.labelled[step["order"]] = order
        return order_values(order)

    async def CreateOrder(
        self, step: Step, subject: str, deadline: Any
    ) -> tuple[dict[str, str], str]:
        assert self.orders is not None
        lines = [
            line_item(line["sku"], line["quantity"], line["unit_price_minor"])
            for line in step["line_items"]
        ]
        order = await self.orders.create_order(
            subject,
            lines,
            currency_code=step["currency_code"],
            request_id=self.next_request_id(step),
            deadline=deadline,
        )
        return self.keep(step, order), ""

    def named(self, step: Step) -> order_pb2.Order | None:
        """The order a step names: literally (order_name) or by an earlier step's label."""
        if "order_name" in step:
            return order_pb2.Order(name=step["order_name"].replace("{run}", self.run_id))
        return self.labelled.get(step.get("order", ""))

    async def GetOrder(self, step: Step, subject: str, deadline: Any) -> tuple[dict[str, str], str]:
        assert self.orders is not None
        seen = self.named(step)
        if seen is None:
            return {}, f"no order labelled {step.get('order')!r}: the step that creates it failed"
        if "wait_ms" in step and step["expect"].get("state") != "STATE_PENDING":
            # The SDK's own wait for the saga's decision; the scenario's wait bounds it too.
            settled = self.orders.wait_until_settled(seen.name, within=step["wait_ms"] / 1000)
            return self.keep(step, await settled), ""
        return self.keep(step, await self.orders.get_order(seen.name, deadline=deadline)), ""

    async def CancelOrder(
        self, step: Step, subject: str, deadline: Any
    ) -> tuple[dict[str, str], str]:
        assert self.orders is not None
        seen = self.named(step)
        if seen is None:
            return {}, f"no order labelled {step.get('order')!r}: the step that creates it failed"
        order = await self.orders.cancel_order(
            seen.name,
            etag=seen.etag if step.get("etag") == "current" else "",
            request_id=self.next_request_id(step),
            deadline=deadline,
        )
        return self.keep(step, order), ""
