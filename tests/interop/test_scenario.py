"""Every client, generated from this repository's protos, passes the one shared scenario against
the whole suite: the user steps and the order flow."""

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
