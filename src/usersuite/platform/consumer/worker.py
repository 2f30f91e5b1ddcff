"""A consumer run beside a service's API: it connects to NATS itself, outlives NATS outages,
and finishes the message in hand when the process stops (a Housekeeper of the API process)."""

import asyncio
import logging

from nats.aio.client import Client
from opentelemetry.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.config.consumer import ConsumerSettings
from usersuite.platform.consumer.consumer import Consumer, Handler
from usersuite.platform.consumer.metrics import ConsumerMetrics
from usersuite.platform.nats.jetstream import connect

log = logging.getLogger(__name__)

# A consumer finishes the message in hand on stop; one that takes longer than this is cut, and
# JetStream redelivers its message (the inbox makes the second delivery harmless).
STOP_TIMEOUT_SECONDS = 10.0


class ConsumerWorker:
    def __init__(
        self,
        nats_url: str,
        engine: AsyncEngine,
        handler: Handler,
        settings: ConsumerSettings,
        *,
        tracer_provider: TracerProvider | None = None,
        metrics: ConsumerMetrics | None = None,
    ) -> None:
        self._nats_url = nats_url
        self._engine = engine
        self._handler = handler
        self._settings = settings
        self._tracer_provider = tracer_provider
        self._metrics = metrics
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: Client | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self._settings.durable}")
        self._task.add_done_callback(self._report)

    def _report(self, task: "asyncio.Task[None]") -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("consumer %s stopped: %r", self._settings.durable, task.exception())

    async def _run(self) -> None:
        client = await connect(self._nats_url, f"usersuite-{self._settings.durable}")
        self._client = client
        consumer = Consumer(
            client,
            self._engine,
            self._handler,
            self._settings,
            tracer_provider=self._tracer_provider,
            metrics=self._metrics,
        )
        await consumer.run(self._stopping)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            if self._client is None:  # still waiting for NATS: nothing in hand to finish
                task.cancel()
            try:
                await asyncio.wait_for(task, STOP_TIMEOUT_SECONDS)
            except asyncio.CancelledError:
                pass
            except TimeoutError:
                log.warning("consumer %s did not stop in time; cut", self._settings.durable)
            except Exception:
                log.exception("consumer %s ended with an error", self._settings.durable)
        client, self._client = self._client, None
        if client is not None:
            await client.close()
