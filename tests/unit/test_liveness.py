"""The relay's liveness: progress or a known wait keeps it alive; a silent stall does not."""

from tests.support.clock import ManualClock
from usersuite.platform.relay.liveness import Liveness


def test_alive_while_progressing_and_dead_after_a_silent_stall() -> None:
    clock = ManualClock(100.0)
    liveness = Liveness(stall_seconds=30, clock=clock)
    clock.now += 29
    assert liveness.alive()
    liveness.progress()
    clock.now += 30
    assert liveness.alive()
    clock.now += 0.5
    assert not liveness.alive()


def test_a_known_wait_keeps_it_alive_however_long_and_counts_as_progress_when_it_ends() -> None:
    clock = ManualClock(100.0)
    liveness = Liveness(stall_seconds=30, clock=clock)
    with liveness.waiting("NATS unavailable"):
        clock.now += 600
        assert liveness.alive()
        assert liveness.waiting_for == "NATS unavailable"
    assert liveness.waiting_for is None
    clock.now += 30
    assert liveness.alive()
    clock.now += 1
    assert not liveness.alive()
