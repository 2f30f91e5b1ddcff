"""Every client retries UNAVAILABLE as the published service config says: with a proxy that
refuses the first attempt of every distinct call, every user step of the scenario still passes."""

import asyncio

import pytest

from tests.interop.clients import client_command, run_scenario, scenario_steps
from tests.interop.tamper import Tamper, TamperingProxy
from tests.support.processes import UsersuiteProcess

# Only the users service is behind it: the client skips the order steps.
STEPS = scenario_steps("users")


@pytest.mark.parametrize("language", ["go", "ts", "rust", "python"])
async def test_client_retries_unavailable(
    language: str, interop_server: UsersuiteProcess, token: str
) -> None:
    command = client_command(language)
    async with TamperingProxy(interop_server.target, Tamper.UNAVAILABLE_FIRST) as proxy:
        target = f"127.0.0.1:{proxy.port}"
        run = await asyncio.to_thread(run_scenario, command, target, token)
    assert run.result.returncode == 0, f"the {language} client did not retry\n{run}"
    assert run.verdicts() == dict.fromkeys(STEPS, "PASS"), str(run)
    assert proxy.refused >= len(STEPS) - 1, "the proxy should have refused most first tries"
