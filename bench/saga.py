"""Saga rows: orders approved per second end to end, and create-to-APPROVED latency at a fixed
rate (issue 17, point 7), on the whole suite: users, orders and billing, a bridge per database.

A client sees an order approved when `order.v1.OrderApproved` reaches it from JetStream (an
ordered push consumer, matched by the order's name), as a real client waiting for the outcome
could; polling GetOrder would add load and its own quantization. The bias: that event is one
more relay hop (orders' outbox to the stream) after the APPROVED commit, so the latency is the
moment the outcome is *published*, one relay hop (≈ 20 ms mean under this machine's load, see
bench/results/saga.md) later than GetOrder could first have shown it.
"""

import asyncio
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import grpc
import nats
from prometheus_client.parser import text_string_to_metric_families

from bench import plans
from bench.bridge import cpu_seconds, on_one_core
from bench.processes import Process, running, say
from bench.report import Row
from bench.saga_client import (
    ORDER_TIMEOUT_SECONDS,
    SagaLoad,
    Shopper,
    cuts,
    fixed_rate,
    subscribe,
    throughput,
)
from bench.stack import LOAD_CPU, Stack
from billing.v1 import billing_pb2, billing_pb2_grpc
from tests.support.nats import NatsServer
from tests.support.ports import free_port
from usersuite.platform.config.groups import EVENT_STREAM

SCOPES = "users.read users.write orders.read orders.write billing.read billing.write"
SERVICES = ("users", "orders", "billing")
USERS = 20
# High enough that no order in a run is refused: every saga ends APPROVED.
CREDIT_LIMIT_MINOR = 10**15
CREDIT = {"USERSUITE_BILLING__DEFAULT_CREDIT_LIMIT_MINOR": str(CREDIT_LIMIT_MINOR)}
LATENCY_RATE = 100.0
# Well below the throughput measured here: the pipeline's latency without a queue.
SLOW_RATE = 20.0
FULL = SagaLoad(concurrency=50, warmup_seconds=3.0, run_seconds=15.0, latency_seconds=10.0)
# QUICK still warms up past one order's latency under 50 clients (about 2 s here).
QUICK = SagaLoad(concurrency=50, warmup_seconds=2.0, run_seconds=3.0, latency_seconds=2.0)


def step_seconds(metrics_port: int) -> str:
    """Mean of the orders service's saga step histogram (create to reply applied), per step."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "usersuite_orders_saga_step_seconds":
            continue
        for sample in family.samples:
            step = sample.labels.get("step", "")
            if sample.name.endswith("_sum"):
                sums[step] = sums.get(step, 0.0) + sample.value
            elif sample.name.endswith("_count"):
                counts[step] = counts.get(step, 0.0) + sample.value
    return ", ".join(
        f"{step} mean {sums[step] / counts[step] * 1000:.1f} ms ({counts[step]:,.0f})"
        for step in sorted(sums)
        if counts.get(step)
    )


async def _backlogs(nats_url: str) -> dict[str, int]:
    """Each saga consumer's messages not yet acknowledged: the hop where orders queue."""
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        backlogs = {}
        for durable in ("billing", "orders"):
            info = await js.consumer_info(EVENT_STREAM, durable)
            backlogs[durable] = info.num_pending + info.num_ack_pending
    finally:
        await client.close()
    return backlogs


async def _backlog(nats_url: str, after: float) -> str:
    await asyncio.sleep(after)
    seen = await _backlogs(nats_url)
    return "consumer backlog mid-run: " + ", ".join(f"{k} {v}" for k, v in seen.items())


async def _drained(nats_url: str, within: float = 120.0) -> None:
    """Until both consumers caught up (bounded): a run never starts behind an earlier queue."""
    give_up = time.monotonic() + within
    while any((await _backlogs(nats_url)).values()) and time.monotonic() < give_up:
        await asyncio.sleep(0.2)


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


async def _measure(running_suite: "Suite", stack: Stack, load: SagaLoad) -> list[Row]:
    shopper = Shopper(running_suite.targets["orders"], stack.metadata(SCOPES), running_suite.users)
    client = await subscribe(running_suite.nats_url, shopper.outcomes)
    pids = {k: v for k, v in running_suite.pids.items() if k not in ("users", "bridge-users")}
    try:
        backlog = asyncio.create_task(
            _backlog(running_suite.nats_url, load.warmup_seconds + load.run_seconds / 2)
        )
        cpu_before = _cpu(pids)
        rate, closed, failed, approved = await throughput(shopper, load)
        used = {name: seconds - cpu_before[name] for name, seconds in _cpu(pids).items()}
        settled = max(1, approved)  # the CPU of the whole loop, over every order it settled
        cpu = ", ".join(f"{name} {used[name] / settled * 1000:.1f}" for name in pids)
        p50, p99 = cuts(closed)
        note = f"{load.concurrency} clients, closed loop, {load.run_seconds:g} s"
        note += f"; {failed} failed" if failed else ""
        note += f"; CPU ms per order: {cpu}; {await backlog}"
        rows = [Row("saga", plans.SAGA_THROUGHPUT, "orders/s", rate, p50, p99, note=note)]
        say(f"{plans.SAGA_THROUGHPUT}: {rate:,.0f} orders/s, p50 {p50 or 0:.1f} ms ({note})")
        # The slow rate first: a rate above capacity leaves a queue behind it.
        for name, per_second in ((plans.SAGA_SLOW, SLOW_RATE), (plans.SAGA_LATENCY, LATENCY_RATE)):
            await _drained(running_suite.nats_url)
            latencies, failed = await fixed_rate(shopper, per_second, load.latency_seconds)
            p50, p99 = cuts(latencies)
            note = f"{len(latencies):,} orders in {load.latency_seconds:g} s"
            note += f"; {failed} not approved in {ORDER_TIMEOUT_SECONDS:g} s" if failed else ""
            achieved = len(latencies) / load.latency_seconds
            rows.append(Row("saga", name, "orders/s", achieved, p50, p99, note=note))
            say(f"{name}: p50 {p50 or 0:.1f} ms, p99 {p99 or 0:.1f} ms")
    finally:
        await client.close()
        await shopper.close()
    return rows


async def _accounts(target: str, metadata: dict[str, str], users: list[str]) -> None:
    """Waits (bounded) for billing to open each user's account (it consumes UserCreated)."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = billing_pb2_grpc.BillingServiceStub(channel)
        for user in users:
            name = "accounts/" + user.removeprefix("users/")
            give_up = time.monotonic() + 60
            while True:
                try:
                    request = billing_pb2.GetAccountRequest(name=name)
                    account = await stub.GetAccount(request, metadata=tuple(metadata.items()))
                    if account.credit_limit_minor >= CREDIT_LIMIT_MINOR:
                        break
                except grpc.aio.AioRpcError as error:
                    if error.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > give_up:
                        raise
                await asyncio.sleep(0.1)


@dataclass
class Suite:
    """The running suite: each service's database, gRPC target and metrics port."""

    nats_url: str
    urls: dict[str, str]
    targets: dict[str, str]
    metrics: dict[str, int]
    pids: dict[str, int]
    users: list[str]


@contextmanager
def suite(stack: Stack, pool_size: int) -> Iterator[Suite]:
    """The suite started as the tests start it (tests/support/suite.py): servers and bridges
    on the server core; `USERS` users whose billing accounts are open."""
    nats_server = NatsServer().start()
    try:
        with ExitStack() as processes:
            servers: dict[str, Process] = {}
            metrics: dict[str, int] = {}
            pids: dict[str, int] = {}
            urls = {service: stack.database(f"bench_saga_{service}") for service in SERVICES}
            for service, url in urls.items():
                metrics[service] = free_port()
                env = {"USERSUITE_DATABASE__POOL_SIZE": str(pool_size), **CREDIT}
                if service != "users":
                    env["USERSUITE_NATS_URL"] = nats_server.url
                launched = stack.launch(f"saga-{service}", url, service, "--metrics-listen",
                                        f"127.0.0.1:{metrics[service]}", **env)  # fmt: skip
                servers[service] = processes.enter_context(running(launched))
                pids[service] = launched.pid
            for server in servers.values():
                server.ready()
            for service, url in urls.items():
                bridge = processes.enter_context(
                    running(stack.bridge(url, nats_server.url, service))
                )
                pids[f"bridge-{service}"] = bridge.pid
            users = stack.seed_users(servers["users"].port(), USERS)
            targets = {name: f"127.0.0.1:{server.port()}" for name, server in servers.items()}
            asyncio.run(_accounts(targets["billing"], stack.metadata(SCOPES), users))
            say(f"saga: {USERS} users with open accounts")
            yield Suite(nats_server.url, urls, targets, metrics, pids, users)
    finally:
        nats_server.remove()


def rows(stack: Stack, load: SagaLoad) -> list[Row]:
    """Throughput, then latency at the fixed rate, this client on the load core."""
    with suite(stack, load.concurrency) as running_suite:
        with on_one_core(LOAD_CPU):
            measured = asyncio.run(_measure(running_suite, stack, load))
        steps = step_seconds(running_suite.metrics["orders"])
        measured[-1].note += f"; saga steps, all runs: {steps}"
    return measured
