"""Runs the shared interop scenario with the Python SDK (`usersuite.client`).

Configuration comes from the environment, the same for every interop client: INTEROP_TARGET,
INTEROP_TOKEN, INTEROP_SCENARIO, INTEROP_SERVICE_CONFIG and INTEROP_RUN_ID; INTEROP_ORDERS_TARGET
and INTEROP_BILLING_TARGET (with INTEROP_ORDERS_SERVICE_CONFIG and INTEROP_BILLING_SERVICE_CONFIG)
for the order steps (python_orders.py), which are skipped without them.
"""

import asyncio
import json
import os
import sys
import uuid
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from tests.interop.expectations import attempt, error_outcome, service_of
from tests.interop.python_orders import OrderSteps
from user.v1 import user_pb2
from usersuite.client import BillingClient, OrderClient, ServiceClient, UserClient, UserServiceError

MAX_PAGES = 1000


class Runner:
    def __init__(
        self, client: UserClient, anonymous: UserClient, orders: OrderSteps, run_id: str
    ) -> None:
        self.client, self.anonymous, self.orders, self.run_id = client, anonymous, orders, run_id
        self.subject = user_pb2.User()
        self.request_id = ""
        self.stale_etag = ""

    def text(self, value: str) -> str:
        return value.replace("{run}", self.run_id)

    async def run(self, step: dict[str, Any]) -> tuple[dict[str, Any], str]:
        if step["call"] != "CreateUser" and not self.subject.name:
            return {"code": ""}, "no subject user: the create step failed"
        client = self.client if step.get("token", True) else self.anonymous
        deadline = step["deadline_ms"] / 1000 if "deadline_ms" in step else None
        if service_of(step) != "users":
            return await self.orders.run(step, self.subject.name, deadline)
        try:
            problem = await getattr(self, step["call"])(client, step, deadline)
        except UserServiceError as error:
            return error_outcome(error), ""
        return {"code": "OK"}, problem

    def check_name(self, step: dict[str, Any], user: user_pb2.User) -> str:
        want = step["expect"].get("display_name")
        return f"display_name {user.display_name!r}" if want and user.display_name != want else ""

    def etag(self, step: dict[str, Any]) -> str:
        return self.stale_etag if step.get("etag") == "stale" else self.subject.etag

    async def CreateUser(self, client: UserClient, step: dict[str, Any], deadline: Any) -> str:
        if step.get("request_id") == "fresh":
            self.request_id = str(uuid.uuid4())
        elif step.get("request_id") == "none":
            self.request_id = ""
        user = await client.create_user(
            step["display_name"],
            self.text(step["email"]),
            request_id=self.request_id,
            deadline=deadline,
        )
        if step["expect"].get("same_user") and user.name != self.subject.name:
            return f"retry returned {user.name}, not the first call's user"
        if step.get("request_id") == "fresh":
            self.subject = user
        return ""

    async def GetUser(self, client: UserClient, step: dict[str, Any], deadline: Any) -> str:
        return self.check_name(step, await client.get_user(self.subject.name, deadline=deadline))

    async def ListUsers(self, client: UserClient, step: dict[str, Any], deadline: Any) -> str:
        for i in range(step.get("seed_users", 0)):
            email = self.text(f"seed{i}.{{run}}@example.com")
            await client.create_user(f"Seed {i}", email, deadline=deadline)
        pages, found = 0, False
        async for page in client.pages(page_size=step["page_size"], deadline=deadline):
            pages += 1
            found = found or any(user.name == self.subject.name for user in page.users)
            if pages >= MAX_PAGES:
                break
        if pages < step["expect"].get("min_pages", 0) or not found:
            return f"{pages} pages, subject listed: {found}"
        return ""

    async def UpdateUser(self, client: UserClient, step: dict[str, Any], deadline: Any) -> str:
        assert step["update_mask"] == ["display_name"], "the SDK derives the mask from its args"
        user = await client.update_user(
            self.subject.name,
            display_name=step["display_name"],
            etag=self.etag(step),
            deadline=deadline,
        )
        if user.etag == self.subject.etag:
            return "the etag did not change"
        self.stale_etag, self.subject = self.subject.etag, user
        return self.check_name(step, user)

    async def DeleteUser(self, client: UserClient, step: dict[str, Any], deadline: Any) -> str:
        await client.delete_user(self.subject.name, etag=self.etag(step), deadline=deadline)
        return ""


Connected = TypeVar("Connected", bound=ServiceClient)


def connect(
    scenario: dict[str, Any], service: str, kind: type[Connected], token: str
) -> Connected | None:
    """A client of the service if its target variable is set, on its published service config."""
    names = scenario["services"][service]
    target = os.environ.get(names["target_env"])
    if not target:
        return None
    config = Path(os.environ[names["service_config_env"]])
    return kind(target, token=lambda: token, service_config=config)


async def run(scenario: dict[str, Any]) -> int:
    config = Path(os.environ["INTEROP_SERVICE_CONFIG"])
    target, token = os.environ["INTEROP_TARGET"], os.environ["INTEROP_TOKEN"]
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            UserClient(target, token=lambda: token, service_config=config)
        )
        anonymous = await stack.enter_async_context(UserClient(target, service_config=config))
        orders, billing = (
            connect(scenario, "orders", OrderClient, token),
            connect(scenario, "billing", BillingClient, token),
        )
        for opened in (orders, billing):
            if opened is not None:
                stack.push_async_callback(opened.close)
        steps = OrderSteps(orders, billing, os.environ["INTEROP_RUN_ID"])
        runner = Runner(client, anonymous, steps, os.environ["INTEROP_RUN_ID"])
        failed = skipped = 0
        for step in scenario["steps"]:
            if service_of(step) != "users" and not steps.serves(step):
                skipped += 1
                variable = scenario["services"][service_of(step)]["target_env"]
                print(f"SKIP {step['name']}: {variable} is not set")
                continue
            outcome, problem = await attempt(scenario, step, partial(runner.run, step))
            if problem:
                failed += 1
                print(f"FAIL {step['name']}: {problem}")
            else:
                print(
                    f"PASS {step['name']} code={outcome['code']} reason={outcome.get('reason', '')}"
                )
    ran = len(scenario["steps"]) - skipped
    print(f"python: {ran - failed} of {ran} steps passed ({skipped} skipped)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run(json.loads(Path(os.environ["INTEROP_SCENARIO"]).read_text()))))
