"""A scenario step's expectation and its comparison with an outcome, for the Python runners."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from usersuite.client import ServiceError

# The answer fields an expectation may name; an outcome's "values" holds them as text.
VALUE_FIELDS = ("state", "rejection_reason", "total_minor", "reserved_minor", "credit_limit_minor")
# A step that waits (wait_ms) calls again after these pauses, doubling from the first.
FIRST_PAUSE_SECONDS = 0.02
MAX_PAUSE_SECONDS = 0.5

Outcome = dict[str, Any]


def service_of(step: dict[str, Any]) -> str:
    """The service a step calls: users unless it says otherwise."""
    return str(step.get("service", "users"))


def expected_values(expect: dict[str, Any]) -> dict[str, str]:
    return {name: str(expect[name]) for name in VALUE_FIELDS if name in expect}


def mismatch(scenario: dict[str, Any], step: dict[str, Any], outcome: Outcome) -> str:
    """What differs between the outcome and the step's expectation; empty when they agree."""
    expect, problems = step["expect"], []
    if outcome["code"] != expect["code"]:
        problems.append(f"code {outcome['code']}, expected {expect['code']}")
    reason = expect.get("reason")
    domain = scenario["services"][service_of(step)]["error_domain"]
    if reason and (outcome.get("reason") != reason or outcome.get("domain") != domain):
        problems.append(
            f"ErrorInfo {outcome.get('domain')}/{outcome.get('reason')}, expected {domain}/{reason}"
        )
    fields = expect.get("field_violations")
    if fields is not None and sorted(outcome.get("violations", [])) != sorted(fields):
        problems.append(f"BadRequest fields {outcome.get('violations')}, expected {fields}")
    if outcome["code"] == "OK":
        got = outcome.get("values", {})
        for name, want in expected_values(expect).items():
            if got.get(name) != want:
                problems.append(f"{name} {got.get(name)}, expected {want}")
    return "; ".join(problems)


def describe(expect: dict[str, Any]) -> str:
    """The expectation in a line, for a step that waited for it in vain."""
    parts = [f"code {expect['code']}"] + (
        [f"reason {expect['reason']}"] if "reason" in expect else []
    )
    return ", ".join(parts + [f"{name} {want}" for name, want in expected_values(expect).items()])


async def attempt(
    scenario: dict[str, Any],
    step: dict[str, Any],
    once: Callable[[], Awaitable[tuple[Outcome, str]]],
) -> tuple[Outcome, str]:
    """Runs a step (`once` gives its outcome and any problem found on the way) and compares the
    outcome; a step with wait_ms runs again, after a growing pause, until the outcome matches or
    the time is up."""
    wait_ms = step.get("wait_ms", 0)
    give_up = time.monotonic() + wait_ms / 1000
    pause, calls = FIRST_PAUSE_SECONDS, 1
    while True:
        outcome, problem = await once()
        problem = problem or mismatch(scenario, step, outcome)
        if not problem or not wait_ms:
            return outcome, problem
        if time.monotonic() + pause >= give_up:
            waited = f"waited {wait_ms} ms ({calls} calls) for {describe(step['expect'])}"
            return outcome, f"{waited}; last: {problem}"
        await asyncio.sleep(pause)
        pause, calls = min(2 * pause, MAX_PAUSE_SECONDS), calls + 1


def error_outcome(error: ServiceError) -> Outcome:
    """A failed SDK call's outcome: its code and decoded google.rpc details."""
    outcome = {
        "code": error.code.name,
        "reason": error.reason,
        "domain": error.domain,
        "violations": list(error.violations),
    }
    if error.undecodable_details:
        outcome["code"] = f"UNDECODABLE_DETAIL ({error.undecodable_details})"
    return outcome
