"""Each API call against its minimal twin (issue 18, point 1): `usersuite serve` (full stack,
auth and every interceptor on) beside bench/minimal.py (the same SQL on a psycopg pool of the
same size, nothing else), both on the server core, measured in alternating runs."""

import dataclasses
import sys

from bench import plans
from bench.api import CREATE, PAGE, pool_for, stats_row
from bench.ghz import Call, Ghz
from bench.processes import Process, environment, running
from bench.report import Row
from bench.stack import SERVER_CPU, Stack

# (row, method, concurrent calls: None is the load's own 50)
TWINS = (
    (plans.GET_TWIN, "GetUser", None),
    (plans.GET_TWIN_ONE, "GetUser", 1),
    (plans.LIST_TWIN, "ListUsers", None),
    (plans.CREATE_TWIN, "CreateUser", None),
)
# Alternating runs of each side at one call at a time. The two sides there are within a few
# percent of each other and one run's ratio ranged 0.85-1.10 over 20 quiet pairs (the host's
# noise, bench/results/issue-18), so the load's 3 runs made its verdict a coin toss.
ONE_CALL_RUNS = 7


def minimal(stack: Stack, url: str, pool_size: int) -> Process:
    args = [sys.executable, "-m", "bench.minimal", url, str(pool_size)]
    return Process("minimal", args, environment(), stack.log_dir, str(SERVER_CPU))


def twins(stack: Stack, ghz: Ghz, url: str) -> list[Row]:
    """GetUser, ListUsers 50 and CreateUser: the full stack's rps over its minimal twin's."""
    stack.migrate(url)
    pool = pool_for(ghz.load)
    with (
        running(stack.serve("serve-twins", url, **pool)) as full,
        running(minimal(stack, url, int(pool["USERSUITE_DATABASE__POOL_SIZE"]))) as bare,
    ):
        full_port, bare_port = full.port(), bare.port()
        someone = stack.seed_users(full_port, 60)[0]
        metadata = stack.metadata()
        data = {"GetUser": {"name": someone}, "ListUsers": PAGE, "CreateUser": CREATE}
        rows = []
        for name, method, concurrency in TWINS:
            stack_call = Call(method, data[method], metadata)
            bare_call = Call(method, data[method], {})
            load = ghz.load
            if concurrency is not None:
                load = dataclasses.replace(load, concurrency=concurrency, connections=1)
            if concurrency == 1 and load.runs > 1:  # a quick smoke run stays quick
                load = dataclasses.replace(load, runs=ONE_CALL_RUNS)
            over_stack, over_bare = ghz.with_load(load).measure_paired(
                (f"127.0.0.1:{full_port}", stack_call), (f"127.0.0.1:{bare_port}", bare_call)
            )
            row = stats_row("twins", name, over_stack, over_bare)
            row.note = (
                f"minimal twin: {over_bare.rps:,.0f} rps, p50 {over_bare.p50_ms:.1f} ms, "
                f"p99 {over_bare.p99_ms:.1f} ms"
            )
            rows.append(row)
    return rows
