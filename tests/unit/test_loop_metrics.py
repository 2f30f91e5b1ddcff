"""A LoopHistogram exposes what prometheus_client's Histogram exposes for the same observations."""

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from usersuite.platform.ops.loop_metrics import LoopHistogram

FRESHNESS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# On a bound (le is inclusive), between bounds, below the first, past the last, negative.
AMOUNTS = [0.05, 0.0501, 0.003, 0.1, 4.99, 5.0, 5.01, 299.0, 300.0, 301.0, 1e9, -0.2, 0.0]


def exposition(registry: CollectorRegistry) -> list[str]:
    """The registry's text exposition without `_created` (which only prometheus_client writes)."""
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if "_created" not in line]


@pytest.mark.parametrize("buckets", [Histogram.DEFAULT_BUCKETS, FRESHNESS], ids=["default", "slo"])
def test_the_same_observations_expose_the_same_samples(buckets: tuple[float, ...]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    loop_histogram = LoopHistogram("relay_seconds", "Seconds.", ours, buckets=buckets)
    histogram = Histogram("relay_seconds", "Seconds.", registry=theirs, buckets=buckets)
    assert exposition(ours) == exposition(theirs)  # before any observation too
    for amount in AMOUNTS:
        loop_histogram.observe(amount)
        histogram.observe(amount)
    assert exposition(ours) == exposition(theirs)
    assert ours.get_sample_value("relay_seconds_bucket", {"le": "5.0"}) == 8
    assert ours.get_sample_value("relay_seconds_count") == len(AMOUNTS)


def test_a_name_taken_in_the_registry_is_refused() -> None:
    registry = CollectorRegistry()
    LoopHistogram("relay_seconds", "Seconds.", registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Histogram("relay_seconds", "Seconds.", registry=registry)
