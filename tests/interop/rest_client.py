"""Runs the shared interop scenario over REST/JSON through the gateway, with httpx.

Configured like every interop client (INTEROP_TARGET, here the gateway's http:// URL,
INTEROP_TOKEN, INTEROP_SCENARIO and INTEROP_RUN_ID). An error is the google.rpc.Status JSON
the gateway returns: its HTTP status must be the one google.rpc.Code documents for its code.
"""

import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.interop.expectations import mismatch, service_of
from tests.interop.python_client import MAX_PAGES

# google.rpc.Code -> HTTP status (google/rpc/code.proto), as the gateway must map them.
HTTP_STATUS = {
    "OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429, "FAILED_PRECONDITION": 400,
    "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501, "INTERNAL": 500,
    "UNAVAILABLE": 503, "DATA_LOSS": 500, "UNAUTHENTICATED": 401,
}  # fmt: skip
TYPE_PREFIX = "type.googleapis.com/google.rpc."


class Failed(Exception):
    """A call that returned an error: its outcome as the scenario compares it."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        super().__init__(outcome["code"])
        self.outcome = outcome


def outcome_of(response: httpx.Response, codes: list[str]) -> dict[str, Any]:
    """The code, ErrorInfo and BadRequest fields of an error response's google.rpc.Status."""
    try:
        status = response.json()
        code = codes[status["code"]]
    except (ValueError, KeyError, IndexError, TypeError):
        return {"code": f"HTTP {response.status_code} without a google.rpc.Status: {response.text}"}
    if HTTP_STATUS[code] != response.status_code:
        return {"code": f"{code} as HTTP {response.status_code}, not {HTTP_STATUS[code]}"}
    outcome: dict[str, Any] = {"code": code, "violations": []}
    for detail in status.get("details", []):
        if detail.get("@type") == f"{TYPE_PREFIX}ErrorInfo":
            outcome["reason"], outcome["domain"] = detail.get("reason"), detail.get("domain")
        elif detail.get("@type") == f"{TYPE_PREFIX}BadRequest":
            outcome["violations"] = [v["field"] for v in detail.get("field_violations", [])]
    return outcome


class RestRunner:
    def __init__(self, http: httpx.Client, token: str, run_id: str, codes: list[str]) -> None:
        self.http, self.token, self.run_id, self.codes = http, token, run_id, codes
        self.subject: dict[str, Any] = {}
        self.request_id = ""
        self.stale_etag = ""

    def call(self, step: dict[str, Any], method: str, path: str, **kwargs: Any) -> Any:
        headers = {}
        if step.get("token", True):
            headers["authorization"] = f"Bearer {self.token}"
        if "deadline_ms" in step:  # the gRPC deadline header, which the gateway honours
            headers["grpc-timeout"] = f"{step['deadline_ms']}m"
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code != 200:
            raise Failed(outcome_of(response, self.codes))
        return response.json()

    def run(self, step: dict[str, Any]) -> tuple[dict[str, Any], str]:
        if step["call"] != "CreateUser" and not self.subject:
            return {"code": ""}, "no subject user: the create step failed"
        try:
            problem = getattr(self, step["call"])(step)
        except Failed as failed:
            return failed.outcome, ""
        return {"code": "OK"}, problem

    def check_name(self, step: dict[str, Any], user: dict[str, Any]) -> str:
        want = step["expect"].get("display_name")
        shown = user.get("display_name")
        return f"display_name {shown!r}" if want and shown != want else ""

    def etag(self, step: dict[str, Any]) -> str:
        return str(self.stale_etag if step.get("etag") == "stale" else self.subject["etag"])

    def CreateUser(self, step: dict[str, Any]) -> str:
        if step.get("request_id") == "fresh":
            self.request_id = str(uuid.uuid4())
        elif step.get("request_id") == "none":
            self.request_id = ""
        body = {
            "display_name": step["display_name"],
            "email": step["email"].replace("{run}", self.run_id),
        }
        params = {"request_id": self.request_id} if self.request_id else {}
        user = self.call(step, "POST", "/v1/users", json=body, params=params)
        if step["expect"].get("same_user") and user["name"] != self.subject.get("name"):
            return f"retry returned {user['name']}, not the first call's user"
        if step.get("request_id") == "fresh":
            self.subject = user
        return ""

    def GetUser(self, step: dict[str, Any]) -> str:
        return self.check_name(step, self.call(step, "GET", f"/v1/{self.subject['name']}"))

    def ListUsers(self, step: dict[str, Any]) -> str:
        for i in range(step.get("seed_users", 0)):
            email = f"seed{i}.{self.run_id}@example.com"
            self.call(step, "POST", "/v1/users", json={"display_name": f"Seed {i}", "email": email})
        pages, found, token = 0, False, ""
        while pages < MAX_PAGES:
            params = {"page_size": step["page_size"], **({"page_token": token} if token else {})}
            page = self.call(step, "GET", "/v1/users", params=params)
            pages += 1
            found = found or any(u["name"] == self.subject["name"] for u in page.get("users", []))
            token = page.get("next_page_token", "")
            if not token:
                break
        if pages < step["expect"].get("min_pages", 0) or not found:
            return f"{pages} pages, subject listed: {found}"
        return ""

    def UpdateUser(self, step: dict[str, Any]) -> str:
        body = {"display_name": step["display_name"], "etag": self.etag(step)}
        params = {"update_mask": ",".join(step["update_mask"])}
        user = self.call(step, "PATCH", f"/v1/{self.subject['name']}", json=body, params=params)
        if user["etag"] == self.subject["etag"]:
            return "the etag did not change"
        self.stale_etag, self.subject = self.subject["etag"], user
        return self.check_name(step, user)

    def DeleteUser(self, step: dict[str, Any]) -> str:
        self.call(step, "DELETE", f"/v1/{self.subject['name']}", params={"etag": self.etag(step)})
        return ""


def run(scenario: dict[str, Any]) -> int:
    target, token = os.environ["INTEROP_TARGET"], os.environ["INTEROP_TOKEN"]
    failed = skipped = 0
    with httpx.Client(base_url=target, timeout=30) as http:
        runner = RestRunner(http, token, os.environ["INTEROP_RUN_ID"], scenario["codes"])
        for step in scenario["steps"]:
            if service_of(step) != "users":
                skipped += 1
                print(f"SKIP {step['name']}: the REST client runs the users steps")
                continue
            outcome, problem = runner.run(step)
            problem = problem or mismatch(scenario, step, outcome)
            if problem:
                failed += 1
                print(f"FAIL {step['name']}: {problem}")
            else:
                print(
                    f"PASS {step['name']} code={outcome['code']} reason={outcome.get('reason', '')}"
                )
    ran = len(scenario["steps"]) - skipped
    print(f"rest: {ran - failed} of {ran} steps passed ({skipped} skipped)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(json.loads(Path(os.environ["INTEROP_SCENARIO"]).read_text())))
