"""The Python runners' comparison of an outcome with a step, and the bounded wait of a step."""

import json
from typing import Any

from tests.interop.clients import SCENARIO
from tests.interop.expectations import Outcome, attempt, mismatch

SCENARIO_DOMAINS = {"services": {"orders": {"error_domain": "usersuite.order.v1"}}}
GET_ORDER: dict[str, Any] = {
    "name": "order-approved",
    "service": "orders",
    "call": "GetOrder",
    "expect": {"code": "OK", "state": "STATE_APPROVED", "total_minor": 6500},
}


def test_every_step_names_a_service_the_scenario_describes() -> None:
    scenario = json.loads(SCENARIO.read_text())
    services = {step.get("service", "users") for step in scenario["steps"]}
    assert services == set(scenario["services"]) == {"users", "orders", "billing"}


def test_an_answer_matches_on_the_fields_the_step_names() -> None:
    answer = {"state": "STATE_APPROVED", "total_minor": "6500", "rejection_reason": "X"}
    assert mismatch(SCENARIO_DOMAINS, GET_ORDER, {"code": "OK", "values": answer}) == ""
    pending = {**answer, "state": "STATE_PENDING"}
    problem = mismatch(SCENARIO_DOMAINS, GET_ORDER, {"code": "OK", "values": pending})
    assert problem == "state STATE_PENDING, expected STATE_APPROVED"


def test_an_error_is_compared_in_the_domain_of_the_step_service() -> None:
    step = {**GET_ORDER, "expect": {"code": "NOT_FOUND", "reason": "ORDER_NOT_FOUND"}}
    outcome = {"code": "NOT_FOUND", "reason": "ORDER_NOT_FOUND", "domain": "usersuite.order.v1"}
    assert mismatch(SCENARIO_DOMAINS, step, outcome) == ""
    problem = mismatch(SCENARIO_DOMAINS, step, {**outcome, "domain": "usersuite.user.v1"})
    assert "expected usersuite.order.v1/ORDER_NOT_FOUND" in problem


async def test_a_waiting_step_calls_again_until_the_answer_matches() -> None:
    answers = iter(["STATE_PENDING", "STATE_PENDING", "STATE_APPROVED"])
    calls = 0

    async def once() -> tuple[Outcome, str]:
        nonlocal calls
        calls += 1
        return {"code": "OK", "values": {"state": next(answers), "total_minor": "6500"}}, ""

    step = {**GET_ORDER, "wait_ms": 60_000}
    outcome, problem = await attempt(SCENARIO_DOMAINS, step, once)
    assert (problem, calls, outcome["values"]["state"]) == ("", 3, "STATE_APPROVED")


async def test_a_step_without_wait_ms_is_called_once() -> None:
    calls = 0

    async def once() -> tuple[Outcome, str]:
        nonlocal calls
        calls += 1
        return {"code": "UNAVAILABLE"}, ""

    _, problem = await attempt(SCENARIO_DOMAINS, GET_ORDER, once)
    assert (problem, calls) == ("code UNAVAILABLE, expected OK", 1)


async def test_a_wait_in_vain_says_what_it_waited_for_and_what_it_saw_last() -> None:
    async def once() -> tuple[Outcome, str]:
        return {"code": "NOT_FOUND", "reason": "ORDER_NOT_FOUND"}, ""

    _, problem = await attempt(SCENARIO_DOMAINS, {**GET_ORDER, "wait_ms": 1}, once)
    assert problem.startswith("waited 1 ms (1 calls) for code OK, state STATE_APPROVED"), problem
    assert problem.endswith("last: code NOT_FOUND, expected OK"), problem
