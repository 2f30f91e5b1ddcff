"""Every client, generated from this repository's protos, passes the one shared scenario; the
TypeScript client passes it over gRPC-Web and the Connect protocol through the gateway too."""

import json

import pytest

from tests.interop.clients import SCENARIO, client_command, run_scenario
from tests.support.processes import UsersuiteProcess

STEPS = [step["name"] for step in json.loads(SCENARIO.read_text())["steps"]]


@pytest.mark.parametrize("language", ["go", "ts", "rust", "python"])
def test_client_passes_every_step(
    language: str, interop_server: UsersuiteProcess, token: str
) -> None:
    run = run_scenario(client_command(language), interop_server.target, token)
    assert run.result.returncode == 0, f"the {language} client failed the scenario\n{run}"
    assert run.verdicts() == dict.fromkeys(STEPS, "PASS"), str(run)
    assert len([line for line in run.lines if line.startswith("PASS ")]) == len(STEPS), str(run)


@pytest.mark.parametrize("transport", ["grpc-web", "connect"])
def test_ts_client_passes_every_step_through_the_gateway(
    transport: str, gateway_url: str, token: str
) -> None:
    run = run_scenario(client_command("ts"), gateway_url, token, transport=transport)
    assert run.result.returncode == 0, f"the ts client over {transport} failed\n{run}"
    assert run.verdicts() == dict.fromkeys(STEPS, "PASS"), str(run)
    assert run.lines[-1].startswith(f"ts ({transport}): "), str(run)
