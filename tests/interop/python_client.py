"""Runs the shared interop scenario with the Python SDK (`usersuite.client`).

Configuration comes from the environment, the same for every interop client: INTEROP_TARGET,
INTEROP_TOKEN, INTEROP_SCENARIO, INTEROP_SERVICE_CONFIG and INTEROP_RUN_ID.
"""

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from user.v1 import user_pb2
from usersuite.client import UserClient, UserServiceError

MAX_PAGES = 1000


def mismatch(scenario: dict[str, Any], expect: dict[str, Any], outcome: dict[str, Any]) -> str:
    """What differs between the outcome and the expectation; empty when they agree."""
    problems = []
    if outcome["code"] != expect["code"]:
        problems.append(f"code {outcome['code']}, expected {expect['code']}")
    reason, domain = expect.get("reason"), scenario["error_domain"]
    if reason and (outcome.get("reason") != reason or outcome.get("domain") != domain):
        problems.append(
            f"ErrorInfo {outcome.get('domain')}/{outcome.get('reason')}, expected {reason}"
        )
    fields = expect.get("field_violations")
    if fields is not None and sorted(outcome.get("violations", [])) != sorted(fields):
        problems.append(f"BadRequest fields {outcome.get('violations')}, expected {fields}")
    return "; ".join(problems)


class Runner:
    def __init__(self, client: UserClient, anonymous: UserClient, run_id: str) -> None:
        self.client, self.anonymous, self.run_id = client, anonymous, run_id
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
        try:
            problem = await getattr(self, step["call"])(client, step, deadline)
        except UserServiceError as error:
            outcome = {
                "code": error.code.name,
                "reason": error.reason,
                "domain": error.domain,
                "violations": list(error.violations),
            }
            if error.undecodable_details:
                outcome["code"] = f"UNDECODABLE_DETAIL ({error.undecodable_details})"
            return outcome, ""
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


async def run(scenario: dict[str, Any]) -> int:
    config = Path(os.environ["INTEROP_SERVICE_CONFIG"])
    target, token = os.environ["INTEROP_TARGET"], os.environ["INTEROP_TOKEN"]
    async with (
        UserClient(target, token=lambda: token, service_config=config) as client,
        UserClient(target, service_config=config) as anonymous,
    ):
        runner = Runner(client, anonymous, os.environ["INTEROP_RUN_ID"])
        failed = 0
        for step in scenario["steps"]:
            outcome, problem = await runner.run(step)
            problem = problem or mismatch(scenario, step["expect"], outcome)
            if problem:
                failed += 1
                print(f"FAIL {step['name']}: {problem}")
            else:
                print(
                    f"PASS {step['name']} code={outcome['code']} reason={outcome.get('reason', '')}"
                )
    steps = len(scenario["steps"])
    print(f"python: {steps - failed} of {steps} steps passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run(json.loads(Path(os.environ["INTEROP_SCENARIO"]).read_text()))))
