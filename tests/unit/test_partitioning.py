"""Sharing the outbox partitions between bridges, and the partition key's stability."""

from usersuite.platform.db.partitions import partition_key
from usersuite.platform.relay.partitioning import Plan, fair_share, plan


def run_to_rest(partitions: int, members: list[int], holders: dict[int, int]) -> dict[int, int]:
    """Lets every member apply its plan in turn until no one changes anything."""
    for _ in range(20):
        changed = False
        for me in members:
            step = plan(partitions, members, holders, me)
            for p in step.release:
                del holders[p]
            for p in step.take:
                if p not in holders:
                    holders[p] = me
            changed |= bool(step.release or step.take)
        if not changed:
            return holders
    raise AssertionError(f"no rest after 20 rounds: {holders}")


def shares(holders: dict[int, int]) -> list[int]:
    counts: dict[int, int] = {}
    for holder in holders.values():
        counts[holder] = counts.get(holder, 0) + 1
    return sorted(counts.values())


def test_fair_share_rounds_up_so_every_partition_has_room() -> None:
    assert fair_share(16, 1) == 16
    assert fair_share(16, 3) == 6
    assert fair_share(16, 16) == 1
    assert fair_share(16, 40) == 1
    assert fair_share(16, 0) == 16


def test_three_bridges_cover_every_partition_with_equal_shares() -> None:
    holders = run_to_rest(16, [101, 202, 303], {})
    assert sorted(holders) == list(range(16))
    assert shares(holders) == [4, 6, 6]


def test_a_lost_bridges_partitions_are_taken_over_by_the_others() -> None:
    holders = run_to_rest(16, [101, 202, 303], {})
    survivors = {p: holder for p, holder in holders.items() if holder != 303}
    holders = run_to_rest(16, [101, 202], survivors)
    assert sorted(holders) == list(range(16))
    assert shares(holders) == [8, 8]


def test_a_joining_bridge_gets_its_share_from_the_others() -> None:
    holders = run_to_rest(16, [101], {})
    assert shares(holders) == [16]
    holders = run_to_rest(16, [101, 202], holders)
    assert shares(holders) == [8, 8]


def test_a_bridge_releases_its_surplus_highest_first() -> None:
    holders = {p: 7 for p in range(10)}
    assert plan(10, [7, 8], holders, 7) == Plan(release=(5, 6, 7, 8, 9))
    assert plan(10, [7, 8], holders, 8) == Plan()


def test_members_start_their_search_at_different_free_partitions() -> None:
    first = {plan(16, [m, 1000], {}, m).take[0] for m in range(16)}
    assert len(first) == 16


def test_the_partition_key_is_stable_and_spreads_users() -> None:
    # crc32: the same number in every process, release and platform.
    assert partition_key("users/alice") == partition_key("users/alice") == 1_272_649_167
    keys = [partition_key(f"users/{i:08x}") % 16 for i in range(1600)]
    assert all(0 <= key < 16 for key in keys)
    assert min(keys.count(p) for p in range(16)) > 60
