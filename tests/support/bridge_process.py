"""`usersuite bridge` as a process: its environment, its ready line and its /metrics."""

import urllib.request
from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.ports import free_port
from tests.support.processes import UsersuiteProcess, production_env
from tests.support.waiting import eventually

BRIDGE_READY = "usersuite bridge ready"
PROCESS_TIMEOUT = 60.0


def bridge_env(database_url: str, nats_url: str, **values: str) -> dict[str, str]:
    """A production-mode `usersuite bridge` (a strong page token secret, auth off), its
    /metrics on a free port of its own."""
    return production_env(
        USERSUITE_DATABASE_URL=database_url,
        USERSUITE_NATS_URL=nats_url,
        USERSUITE_METRICS_LISTEN=f"127.0.0.1:{free_port()}",
        USERSUITE_BRIDGE__POLL_INTERVAL_SECONDS="0.2",
        **values,
    )


def scrape(env: dict[str, str]) -> dict[str, float]:
    """The bridge's /metrics as sample name -> value (labelled samples summed)."""
    url = f"http://{env['USERSUITE_METRICS_LISTEN']}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name] += sample.value
    return samples


def is_ready(process: UsersuiteProcess) -> bool:
    return any(line.startswith(BRIDGE_READY) for line in list(process.stdout_lines))


async def wait_bridge_ready(process: UsersuiteProcess, within: float = PROCESS_TIMEOUT) -> None:
    """Waits for the bridge's ready line; fails with its output if it exits or never gets there."""

    async def ready() -> bool:
        if process.proc.poll() is not None:
            process.wait()
            pytest.fail(f"the bridge exited before it was ready\n{process.output()}")
        return is_ready(process)

    try:
        await eventually(ready, within=within, what="the bridge's ready line")
    except TimeoutError:
        pytest.fail(f"no bridge ready line within {within}s\n{process.output()}")
