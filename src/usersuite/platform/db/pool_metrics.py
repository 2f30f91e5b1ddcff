"""Connection pool gauges (usersuite_db_pool_*), read from the SQLAlchemy pool.

A lone process reads them at scrape time (`register_pool_metrics`). A worker of
`serve --workers N` has no scrape of its own: it writes them to prometheus_client's
multiprocess files on every heartbeat (`PoolGauges`), and its parent's /metrics sums the
live workers' values.
"""

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.ext.asyncio import AsyncEngine


def _readings(engine: AsyncEngine) -> Iterator[tuple[str, str, int]]:
    """(name, documentation, value) of each gauge; none for a pool that keeps no counts."""
    pool: Any = engine.sync_engine.pool
    # Only queue pools keep counts; other pool classes (NullPool, StaticPool) report none.
    if not all(hasattr(pool, name) for name in ("size", "checkedout", "overflow")):
        return
    yield "usersuite_db_pool_size", "Connections the pool keeps open", pool.size()
    yield "usersuite_db_pool_checked_out", "Connections in use", pool.checkedout()
    # SQLAlchemy counts overflow from -size; only connections beyond the size count.
    yield "usersuite_db_pool_overflow", "Connections beyond the pool size", max(pool.overflow(), 0)


class PoolCollector:
    """Connection pool gauges, read from the SQLAlchemy pool at scrape time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        for name, documentation, value in _readings(self._engine):
            yield GaugeMetricFamily(name, documentation, value=value)


def register_pool_metrics(registry: CollectorRegistry, engine: AsyncEngine) -> None:
    registry.register(PoolCollector(engine))


class PoolGauges:
    """The same readings as multiprocess gauges, summed over the live workers by the parent."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._gauges: dict[str, Gauge] = {}

    def update(self) -> None:
        for name, documentation, value in _readings(self._engine):
            if name not in self._gauges:
                # In no registry: the worker's own one has the scrape-time collector, and the
                # values travel through the multiprocess files. `livesum` drops a dead worker's.
                self._gauges[name] = Gauge(
                    name, documentation, registry=None, multiprocess_mode="livesum"
                )
            self._gauges[name].set(value)
