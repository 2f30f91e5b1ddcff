"""The bench's parsing and report code, fed with ghz JSON recorded from real runs."""

import json
import os
from pathlib import Path

import pytest

from bench import bridge, chart, plans, report
from bench.ghz import RunStats, median_run, parse_report
from bench.report import Row
from usersuite.platform.db.partitions import partition_key

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((DATA / name).read_text())
    return loaded


def test_throughput_counts_ok_calls_only_and_latencies_come_from_ghz() -> None:
    stats = parse_report(recorded("ghz_getuser.json"))
    # 752 OK of 781 calls in 0.993 s: the 29 cut off at the end are not throughput.
    assert stats.ok == 752
    assert stats.errors == 29
    assert stats.rps == pytest.approx(752 / 0.993369402)
    assert stats.p50_ms == pytest.approx(51.32606)
    assert stats.p99_ms == pytest.approx(162.415459)


def test_a_run_without_one_ok_call_is_an_error_not_a_number() -> None:
    with pytest.raises(ValueError, match="no successful call"):
        parse_report(recorded("ghz_unimplemented.json"))


def test_median_of_measured_runs() -> None:
    runs = [
        RunStats(100, 9, 30, 1000, 0),
        RunStats(300, 5, 10, 3000, 50),
        RunStats(200, 7, 20, 2000, 1),
    ]
    median = median_run(runs)
    assert (median.rps, median.p50_ms, median.p99_ms) == (200, 7, 20)
    assert (median.ok, median.errors) == (6000, 51)


def _rows() -> list[Row]:
    ceiling = parse_report(recorded("ghz_getuser.json"))
    return [
        Row(
            "ceiling",
            plans.CEILING,
            value=ceiling.rps,
            p50_ms=ceiling.p50_ms,
            p99_ms=ceiling.p99_ms,
        ),
        Row("API", plans.GET_PG, value=ceiling.rps * 0.6),
        Row("API", plans.CREATE_PG, value=ceiling.rps * 0.1),
        # Paired with a ceiling run that was slower than the ceiling row: 0.35x of it.
        Row("API", plans.LIST_PG, value=70.0, paired=200.0),
        Row("interceptors", plans.TRACING_OFF, value=150.0, paired=100.0),
        Row("interceptors", plans.STACK_SHARE, "%", 20.0),
        Row("deep page", plans.FIRST_PAGE, value=100.0),
        Row("deep page", plans.DEEP_PAGE, value=50.0),
        Row("bridge", plans.RAW_PUBLISH, "events/s", 30_000.0),
        # Paired with the fastest raw publish of its rounds (25,000/s), not the raw row's.
        Row("bridge", plans.BRIDGE_MANY, "events/s", 16_000.0, paired=25_000.0),
        Row("bridge", plans.BRIDGE_100, "events/s", 17_000.0),
        Row("bridge", plans.COMMIT_TO_ACK, "events/s", 1000.0, 20.0, 90.0),
        Row("memory", plans.RSS_SERVER, "MB", 250.0),
    ]


def test_rows_are_judged_against_the_issue_targets() -> None:
    rows = {row.scenario: row for row in report.judge(_rows(), plans.PLANS)}
    assert rows[plans.GET_PG].ratio == pytest.approx(0.6)
    assert rows[plans.GET_PG].met is True
    assert rows[plans.CREATE_PG].met is False
    # A paired row is judged against its own baseline runs, not the baseline's row.
    assert rows[plans.LIST_PG].ratio == pytest.approx(0.35)
    assert rows[plans.LIST_PG].met is True
    assert rows[plans.TRACING_OFF].ratio == pytest.approx(1.5)
    assert rows[plans.TRACING_OFF].met is None  # priced, no target of its own
    assert rows[plans.STACK_SHARE].met is False  # 20% > 15%
    # Deep page: twice the first page's time misses "≤ 1.3×".
    assert rows[plans.DEEP_PAGE].ratio == pytest.approx(2.0)
    assert rows[plans.DEEP_PAGE].met is False
    # Both bridge targets hold: ≥ 10,000/s and ≥ 0.6× its paired raw publish_async.
    assert rows[plans.BRIDGE_MANY].ratio == pytest.approx(0.64)
    assert rows[plans.BRIDGE_MANY].met is True
    assert rows[plans.BRIDGE_100].ratio == pytest.approx(17 / 30)
    assert rows[plans.BRIDGE_100].met is False  # under 0.6x raw
    assert rows[plans.COMMIT_TO_ACK].met is True
    assert rows[plans.RSS_SERVER].met is False


def test_the_markdown_has_a_machine_line_and_one_row_per_scenario() -> None:
    rows = report.judge(_rows(), plans.PLANS)
    text = report.render(rows, "2 cores, a CPU", "Python 3.11", ["a note"])
    lines = text.splitlines()
    assert "Machine: 2 cores, a CPU" in lines
    table = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert len(table) == len(rows)
    get_user = next(line for line in table if f"| {plans.GET_PG} |" in line)
    assert "0.60× (ceiling" in get_user
    assert "| met |" in get_user
    assert "**missed**" in next(line for line in table if f"| {plans.CREATE_PG} |" in line)
    assert "1.50× (GetUser (PostgreSQL), paired)" in next(
        line for line in table if plans.TRACING_OFF in line
    )
    assert "- a note" in lines


def test_results_survive_a_round_trip_through_json_and_draw_a_chart(tmp_path: Path) -> None:
    rows = report.judge(_rows(), plans.PLANS)
    report.save(rows, tmp_path / "latest.json")
    assert report.load(tmp_path / "latest.json") == rows
    chart.draw(rows, tmp_path / "latest.png")
    assert (tmp_path / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_before_and_after_sit_side_by_side_with_their_ratios() -> None:
    before = report.judge(_rows(), plans.PLANS)
    after = report.judge(
        [Row("ceiling", plans.CEILING, value=1000.0), Row("API", plans.GET_PG, value=600.0)],
        plans.PLANS,
    )
    lines = report.comparison(before, after).splitlines()
    get_user = next(line for line in lines if line.startswith(f"| {plans.GET_PG} |"))
    assert get_user.endswith("| 600 rps (0.60×) |")
    assert "(0.60×)" in get_user.split("|")[2]  # before: 0.6 of that run's ceiling too
    assert len([line for line in lines if line.startswith("| ")]) == 3  # header + 2 rows


def test_the_machines_busy_time_leaves_out_idle_and_iowait_only() -> None:
    # /proc/stat's first line: user nice system idle iowait irq softirq steal guest guest_nice.
    stat = "cpu  100 5 50 1000 20 3 2 7 40 0\ncpu0 50 2 25 500 10 1 1 3 20 0\n"
    ticks = os.sysconf("SC_CLK_TCK")
    assert bridge.busy_seconds(stat) == pytest.approx((100 + 5 + 50 + 3 + 2 + 7) / ticks)


def test_the_bridge_benchs_rows_carry_the_partition_key_the_outbox_writer_gives() -> None:
    seeded = bridge.seeded(6, users=3)
    assert seeded["names"] == [f"users/bench-{n}" for n in (1, 2, 0, 1, 2, 0)]
    assert seeded["keys"] == [partition_key(str(name)) for name in seeded["names"]]
    assert len(set(seeded["keys"])) == 3


def test_a_relay_row_is_its_median_run_paired_with_raw_publishs_capacity() -> None:
    runs = [
        Row("bridge", plans.BRIDGE_MANY, "events/s", rate, note=f"CPU {cpu} µs/event")
        for rate, cpu in ((18_000.0, 30), (22_000.0, 26), (9_000.0, 55))
    ]
    row = bridge.median_of_rounds(runs, 30_000.0)
    assert (row.value, row.paired) == (18_000.0, 30_000.0)
    assert row.note == "median of 3 runs; CPU 30 µs/event"  # the median run's own note
    [judged] = report.judge([row], plans.PLANS)
    assert judged.ratio == pytest.approx(0.6)
    assert judged.met is True
    raws = [Row("bridge", plans.RAW_PUBLISH, "events/s", rate) for rate in (3.0, 1.0, 2.0)]
    assert bridge.median_of_rounds(raws).note == "median of 3 runs"
    # One run (a quick smoke test): the run as it is, unpaired.
    [alone] = [Row("bridge", plans.RAW_PUBLISH, "events/s", 30_000.0)]
    assert bridge.median_of_rounds([alone], 31_000.0) is alone
    assert alone.paired is None


def test_the_relay_rows_are_judged_against_raw_publishs_fastest_round() -> None:
    raws = [
        Row("bridge", plans.RAW_PUBLISH, "events/s", rate)
        for rate in (19_000.0, 25_500.0, 18_600.0)
    ]
    relayed = {
        name: [Row("bridge", name, "events/s", rate) for rate in (18_000.0, 16_000.0, 17_000.0)]
        for name, _ in bridge.SPREADS
    }
    rows = {
        row.scenario: row for row in report.judge(bridge.relay_rows(raws, relayed), plans.PLANS)
    }
    assert rows[plans.RAW_PUBLISH].value == 19_000.0  # its median run
    for name, _ in bridge.SPREADS:
        assert (rows[name].value, rows[name].paired) == (17_000.0, 25_500.0)
        assert rows[name].ratio == pytest.approx(17 / 25.5)
        assert rows[name].met is True


def test_the_cold_row_is_judged_against_the_warm_many_users_row() -> None:
    warm = Row("bridge", plans.BRIDGE_MANY, "events/s", 17_000.0)
    for cold_rate, met in ((3_500.0, False), (15_300.0, True)):
        cold = Row("bridge", plans.BRIDGE_COLD, "events/s", cold_rate)
        rows = {row.scenario: row for row in report.judge([warm, cold], plans.PLANS)}
        assert rows[plans.BRIDGE_COLD].ratio == pytest.approx(cold_rate / 17_000.0)
        assert rows[plans.BRIDGE_COLD].met is met
