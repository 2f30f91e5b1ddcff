"""The saga rows' client: places orders and sees them approved through JetStream's
order.v1.OrderApproved (bench/saga.py says why and what that costs); a closed loop for
throughput, an open loop at a fixed rate for latency."""

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field

import grpc
import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from order.v1 import events_pb2, order_pb2, order_pb2_grpc

ORDER_TIMEOUT_SECONDS = 30.0
ITEMS = (order_pb2.LineItem(sku="bench-sku", quantity=1, unit_price_minor=100),)


@dataclass(frozen=True)
class SagaLoad:
    """Closed-loop clients for throughput; an open-loop rate for latency."""

    concurrency: int
    warmup_seconds: float
    run_seconds: float
    latency_seconds: float


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


async def subscribe(nats_url: str, outcomes: Outcomes) -> NatsClient:
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


def cuts(latencies: list[float]) -> tuple[float | None, float | None]:
    if len(latencies) < 2:
        return None, None
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49], cuts[98]
