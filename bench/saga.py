"""Saga rows: orders approved per second end to end, and create-to-APPROVED latency at a fixed
rate (issue 17, point 7), on the whole suite: users, orders and billing, a bridge per database.

A client sees an order approved when `order.v1.OrderApproved` reaches it from JetStream (an
ordered push consumer, matched by the order's name), as a real client waiting for the outcome
could; polling GetOrder would add load and its own quantization. The bias: that event is one
more relay hop (orders' outbox to the stream) after the APPROVED commit, so the latency is the
moment the outcome is *published*, a few ms later than GetOrder could first have shown it.
"""

import asyncio
import statistics
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import grpc
import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from prometheus_client.parser import text_string_to_metric_families

from bench import plans
from bench.bridge import cpu_seconds, on_one_core
from bench.processes import Process, running, say
from bench.report import Row
from bench.stack import LOAD_CPU, Stack
from billing.v1 import billing_pb2, billing_pb2_grpc
from order.v1 import events_pb2, order_pb2, order_pb2_grpc
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
ORDER_TIMEOUT_SECONDS = 30.0
ITEMS = (order_pb2.LineItem(sku="bench-sku", quantity=1, unit_price_minor=100),)


@dataclass(frozen=True)
class SagaLoad:
    """Closed-loop clients for throughput; an open-loop rate for latency."""

    concurrency: int
    warmup_seconds: float
    run_seconds: float
    latency_seconds: float


FULL = SagaLoad(concurrency=50, warmup_seconds=3.0, run_seconds=15.0, latency_seconds=10.0)
QUICK = SagaLoad(concurrency=50, warmup_seconds=0.5, run_seconds=2.0, latency_seconds=2.0)


@dataclass
class Outcomes:
    """Orders awaited by name; JetStream's OrderApproved (or OrderRejected) settles them."""

    waiting: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    rejected: int = 0

    def expect(self, name: str) -> "asyncio.Future[float]":
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[name] = future
        return future

    async def approved(self, msg: Msg) -> None:
        now = time.perf_counter()
        name = events_pb2.OrderApproved.FromString(msg.data).order.name
        future = self.waiting.pop(name, None)
        if future is not None and not future.done():
            future.set_result(now)

    async def refused(self, msg: Msg) -> None:
        name = events_pb2.OrderRejected.FromString(msg.data).order.name
        future = self.waiting.pop(name, None)
        if future is not None and not future.done():
            self.rejected += 1
            future.set_exception(RuntimeError(f"{name} rejected"))


class Shopper:
    """Places orders and awaits their approval; one channel, like ghz's few connections."""

    def __init__(self, target: str, metadata: dict[str, str], users: list[str]) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = order_pb2_grpc.OrderServiceStub(self._channel)
        self._metadata = tuple(metadata.items())
        self._users = users
        self.outcomes = Outcomes()
        self.failed = 0

    async def order(self, index: int) -> tuple[float, float] | None:
        """(created at, approved at) by this process's clock; None when it failed."""
        order_id = f"o{uuid.uuid4().hex}"
        approved = self.outcomes.expect(f"orders/{order_id}")
        request = order_pb2.CreateOrderRequest(
            order=order_pb2.Order(
                user=self._users[index % len(self._users)], line_items=ITEMS, currency_code="EUR"
            ),
            order_id=order_id,
        )
        started = time.perf_counter()
        try:
            await self._stub.CreateOrder(request, metadata=self._metadata, timeout=10)
            return started, await asyncio.wait_for(approved, ORDER_TIMEOUT_SECONDS)
        except (grpc.RpcError, RuntimeError, TimeoutError):
            self.failed += 1
            self.outcomes.waiting.pop(f"orders/{order_id}", None)
            return None

    async def close(self) -> None:
        await self._channel.close(None)


async def _subscribe(nats_url: str, outcomes: Outcomes) -> NatsClient:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    new = nats.js.api.DeliverPolicy.NEW
    await js.subscribe("order.v1.OrderApproved", cb=outcomes.approved, ordered_consumer=True,
                       deliver_policy=new)  # fmt: skip
    await js.subscribe("order.v1.OrderRejected", cb=outcomes.refused, ordered_consumer=True,
                       deliver_policy=new)  # fmt: skip
    return client


async def throughput(shopper: Shopper, load: SagaLoad) -> tuple[float, list[float], int, int]:
    """A closed loop of `concurrency` clients: approvals per second after the warm-up, their
    latencies, the orders that failed and all approved (warm-up and tail included)."""
    loop_started = time.perf_counter()
    measure_from = loop_started + load.warmup_seconds
    stop_at = measure_from + load.run_seconds
    latencies: list[float] = []
    counter = iter(range(10**9))
    approved = 0

    async def client() -> None:
        nonlocal approved
        while time.perf_counter() < stop_at:
            done = await shopper.order(next(counter))
            approved += done is not None
            if done is not None and measure_from <= done[1] < stop_at:
                latencies.append((done[1] - done[0]) * 1000)

    failed_before = shopper.failed
    await asyncio.gather(*(client() for _ in range(load.concurrency)))
    rate = len(latencies) / load.run_seconds
    return rate, latencies, shopper.failed - failed_before, approved


async def fixed_rate(shopper: Shopper, rate: float, seconds: float) -> tuple[list[float], int]:
    """An open loop: one order every 1/rate s, whatever the earlier ones are doing."""
    count = int(rate * seconds)
    started = time.perf_counter()
    tasks = []
    failed_before = shopper.failed
    for i in range(count):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(shopper.order(i)))
    done = await asyncio.gather(*tasks)
    latencies = [(end - start) * 1000 for item in done if item is not None for start, end in [item]]
    return latencies, shopper.failed - failed_before


def _cuts(latencies: list[float]) -> tuple[float | None, float | None]:
    if len(latencies) < 2:
        return None, None
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49], cuts[98]


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
    client = await _subscribe(running_suite.nats_url, shopper.outcomes)
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
        p50, p99 = _cuts(closed)
        note = f"{load.concurrency} clients, closed loop, {load.run_seconds:g} s"
        note += f"; {failed} failed" if failed else ""
        note += f"; CPU ms per order: {cpu}; {await backlog}"
        rows = [Row("saga", plans.SAGA_THROUGHPUT, "orders/s", rate, p50, p99, note=note)]
        say(f"{plans.SAGA_THROUGHPUT}: {rate:,.0f} orders/s, p50 {p50 or 0:.1f} ms ({note})")
        # The slow rate first: a rate above capacity leaves a queue behind it.
        for name, per_second in ((plans.SAGA_SLOW, SLOW_RATE), (plans.SAGA_LATENCY, LATENCY_RATE)):
            await _drained(running_suite.nats_url)
            latencies, failed = await fixed_rate(shopper, per_second, load.latency_seconds)
            p50, p99 = _cuts(latencies)
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
        measured[
            -1
        ].note += f"; saga steps, all runs: {step_seconds(running_suite.metrics['orders'])}"
    return measured
