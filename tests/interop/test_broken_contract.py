"""A client notices a broken contract: a corrupted error detail or a changed field number
makes it fail the scenario (the proxy in tamper.py breaks the real server's answers)."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.interop.clients import client_command, run_scenario
from tests.interop.tamper import Tamper, TamperingProxy
from tests.support.processes import UsersuiteProcess

LANGUAGES = ["go", "ts", "rust", "python"]


BREAKING = [Tamper.CORRUPT_ERROR_INFO, Tamper.RENUMBER_DISPLAY_NAME]


@pytest.fixture(params=BREAKING, ids=[t.value for t in BREAKING])
async def proxy(
    request: pytest.FixtureRequest, interop_server: UsersuiteProcess
) -> AsyncIterator[TamperingProxy]:
    async with TamperingProxy(interop_server.target, request.param) as running:
        yield running


@pytest.mark.parametrize("language", LANGUAGES)
async def test_client_fails_on_a_broken_contract(
    language: str, proxy: TamperingProxy, token: str
) -> None:
    command = client_command(language)
    run = await asyncio.to_thread(run_scenario, command, f"127.0.0.1:{proxy.port}", token)
    verdicts = run.verdicts()
    assert run.result.returncode == 1, f"the {language} client did not fail\n{run}"
    if proxy.tamper is Tamper.CORRUPT_ERROR_INFO:
        # Calls that succeed are untouched; every answer with an ErrorInfo is unreadable.
        assert verdicts["create"] == verdicts["delete"] == "PASS", str(run)
        failing = ["update-with-stale-etag", "create-invalid-email", "get-deleted"]
    else:
        failing = ["get", "update-with-mask-and-etag"]
    assert all(verdicts[step] == "FAIL" for step in failing), str(run)
