"""Every client, generated from this repository's protos, passes the one shared scenario against
the whole suite (the user steps and the order flow); the TypeScript client passes them over
gRPC-Web and the Connect protocol through the gateway in front of the suite too."""

import pytest

from tests.interop.clients import client_command, run_scenario, scenario_steps
from tests.support.suite import SERVICES, Suite

STEPS = scenario_steps(*SERVICES)


@pytest.mark.parametrize("language", ["go", "ts", "rust", "python"])
def test_client_passes_every_step(language: str, interop_suite: Suite, token: str) -> None:
    run = run_scenario(
        client_command(language),
        interop_suite.target("users"),
        token,
        orders=interop_suite.target("orders"),
        billing=interop_suite.target("billing"),
    )
    assert run.result.returncode == 0, f"the {language} client failed the scenario\n{run}"
    assert run.verdicts() == dict.fromkeys(STEPS, "PASS"), str(run)
    assert len([line for line in run.lines if line.startswith("PASS ")]) == len(STEPS), str(run)


@pytest.mark.parametrize("transport", ["grpc-web", "connect"])
def test_ts_client_passes_every_step_through_the_gateway(
    transport: str, suite_gateway_url: str, token: str
) -> None:
    gateway = suite_gateway_url
    run = run_scenario(
        client_command("ts"), gateway, token, transport=transport, orders=gateway, billing=gateway
    )
    assert run.result.returncode == 0, f"the ts client over {transport} failed\n{run}"
    assert run.verdicts() == dict.fromkeys(STEPS, "PASS"), str(run)
    assert run.lines[-1].startswith(f"ts ({transport}): "), str(run)
