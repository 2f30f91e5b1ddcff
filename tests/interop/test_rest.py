"""The shared scenario over REST/JSON through the Envoy gateway, errors included."""

from tests.interop.clients import client_command, run_scenario, scenario_steps

# Only the users service is behind it: the client skips the order steps.
STEPS = scenario_steps("users")


def test_rest_client_passes_every_step_through_the_gateway(gateway_url: str, token: str) -> None:
    run = run_scenario(client_command("rest"), gateway_url, token)
    assert run.result.returncode == 0, f"the REST client failed the scenario\n{run}"
    assert run.verdicts() == dict.fromkeys(STEPS, "PASS"), str(run)
