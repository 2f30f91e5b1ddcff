"""Connection pool gauges (usersuite_db_pool_*), read from the SQLAlchemy pool at scrape time."""

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.ext.asyncio import AsyncEngine


class PoolCollector:
    """Connection pool gauges, read from the SQLAlchemy pool at scrape time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        pool: Any = self._engine.sync_engine.pool
        # Only queue pools keep counts; other pool classes (NullPool, StaticPool) report none.
        if not all(hasattr(pool, name) for name in ("size", "checkedout", "overflow")):
            return
        readings = (
            ("usersuite_db_pool_size", "Connections the pool keeps open", pool.size()),
            ("usersuite_db_pool_checked_out", "Connections in use", pool.checkedout()),
            # SQLAlchemy counts overflow from -size; only connections beyond the size count.
            ("usersuite_db_pool_overflow", "Connections beyond the pool size", pool.overflow()),
        )
        for name, documentation, value in readings:
            yield GaugeMetricFamily(name, documentation, value=max(value, 0))


def register_pool_metrics(registry: CollectorRegistry, engine: AsyncEngine) -> None:
    registry.register(PoolCollector(engine))
