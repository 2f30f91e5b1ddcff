"""How live bridges share the outbox partitions: each aims at an equal share, rounded up.

Every bridge decides for itself from the same lock table: with R members and K partitions each
wants ceil(K / R). One that holds more gives the surplus back; one that holds fewer takes free
partitions. Shares rounded up cover all K, so every partition finds a bridge as soon as the
holders of a lost bridge's partitions are gone, and a bridge that joins gets its share as the
others give theirs back.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass


def fair_share(partitions: int, members: int) -> int:
    return -(-partitions // max(1, members))


@dataclass(frozen=True)
class Plan:
    release: tuple[int, ...] = ()
    take: tuple[int, ...] = ()


def plan(partitions: int, members: Collection[int], holders: Mapping[int, int], me: int) -> Plan:
    """What this bridge (`me`, a member id) should release or try to take now.

    Free partitions are tried starting at an offset that differs between members, so that
    bridges starting together do not all race for partition 0 first.
    """
    mine = sorted(p for p, holder in holders.items() if holder == me and p < partitions)
    share = fair_share(partitions, len(set(members) | {me}))
    if len(mine) > share:
        return Plan(release=tuple(mine[share:]))
    free = [p for p in range(partitions) if p not in holders]
    if not free or len(mine) == share:
        return Plan()
    start = me % len(free)
    ordered = free[start:] + free[:start]
    return Plan(take=tuple(ordered[: share - len(mine)]))
