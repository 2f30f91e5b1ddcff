"""Every client retries UNAVAILABLE as the published service config says: with a proxy that
refuses the first attempt of every distinct call, the whole scenario still passes."""

import asyncio
import json

import pytest

from tests.interop.clients import SCENARIO, client_command, run_scenario
from tests.interop.tamper import Tamper, TamperingProxy
from tests.support.processes import UsersuiteProcess

STEPS = [step["name"] for step in json.loads(SCENARIO.read_text())["steps"]]


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
