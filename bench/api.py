"""API scenarios: the ceiling, the three calls on both databases, interceptor pricing, workers."""

import json
from collections.abc import Callable

from bench import plans
from bench.ghz import Call, Ghz, Load, RunStats, median_run
from bench.processes import running, say
from bench.report import Row
from bench.server import SKIP_VARIABLE
from bench.stack import Stack

SEED_USERS = 60
CREATE = {"user": {"display_name": "Bench User", "email": "bench-{{newUUID}}@example.com"}}
PAGE = {"page_size": 50}


CEILING_CALL = Call("GetUser", {"name": "users/ada"}, {})


def pool_for(load: Load) -> dict[str, str]:
    """The pool an operator gives a server that takes `load`'s concurrent calls: none of them
    waits for a connection (a pool of 10 under 50 calls cost GetUser 18%, paired, in queueing).
    SQLite keeps its single connection whatever this says."""
    return {"USERSUITE_DATABASE__POOL_SIZE": str(load.concurrency)}


def stats_row(group: str, name: str, stats: RunStats, paired: RunStats | None = None) -> Row:
    say(f"{name}: {stats.rps:,.0f} rps, p50 {stats.p50_ms:.1f} ms, p99 {stats.p99_ms:.1f} ms")
    return Row(group, name, "rps", stats.rps, stats.p50_ms, stats.p99_ms,
               paired=None if paired is None else paired.rps)  # fmt: skip


def ceiling_row(paired_runs: list[RunStats]) -> Row:
    """The ceiling: the median of its runs beside each API scenario."""
    stats = median_run(paired_runs)
    return Row("ceiling", plans.CEILING, "rps", stats.rps, stats.p50_ms, stats.p99_ms,
               note=f"median of its {len(paired_runs)} paired measurements")  # fmt: skip


def calls(
    stack: Stack,
    ghz: Ghz,
    *,
    ceiling: str,
    database: str,
    url: str,
    measured: Callable[[RunStats, float], None],
) -> list[Row]:
    """GetUser, ListUsers (50) and CreateUser against one full-stack server, each measured in
    runs alternating with the ceiling at `ceiling`; `measured(ceiling run, peak RSS)`."""
    names = {
        "PostgreSQL": (plans.GET_PG, plans.LIST_PG, plans.CREATE_PG),
        "SQLite": (plans.GET_SQLITE, plans.LIST_SQLITE, plans.CREATE_SQLITE),
    }[database]
    with running(stack.serve(f"serve-{database}", url, **pool_for(ghz.load))) as server:
        port = server.port()
        target = f"127.0.0.1:{port}"
        someone = stack.seed_users(port, SEED_USERS)[0]
        metadata = stack.metadata()
        requests = (
            Call("GetUser", {"name": someone}, metadata),
            Call("ListUsers", PAGE, metadata),
            Call("CreateUser", CREATE, metadata),
        )
        rows = []
        for name, call in zip(names, requests, strict=True):
            top, stats = ghz.measure_paired((ceiling, CEILING_CALL), (target, call))
            rows.append(stats_row("API", name, stats, top))
            measured(top, server.peak_rss_mb())
    return rows


def _skip(*interceptors: str) -> dict[str, str]:
    """The bench-only setting that leaves interceptors out of the stack (bench/server.py)."""
    return {SKIP_VARIABLE: json.dumps(interceptors)}


LAYER_SETTINGS: dict[str, dict[str, str]] = {
    plans.AUTH_OFF: {"USERSUITE_AUTH__ENABLED": "false"},
    plans.OBSERVABILITY_OFF: {
        "USERSUITE_TELEMETRY__ACCESS_LOG": "false",
        "USERSUITE_TELEMETRY__METRICS": "false",
    },
    plans.TRACING_OFF: _skip("tracing"),
    plans.DEADLINE_OFF: _skip("deadline"),
    plans.GUARD_OFF: _skip("request_guard"),
    plans.ERRORS_OFF: _skip("errors"),
    plans.RATE_LIMIT_ON: {
        "USERSUITE_LIMITS__RATE_LIMIT_ENABLED": "true",
        "USERSUITE_LIMITS__PRINCIPAL_RATE_PER_SECOND": "1000000",
        "USERSUITE_LIMITS__PRINCIPAL_BURST": "1000000",
        "USERSUITE_LIMITS__GLOBAL_RATE_PER_SECOND": "1000000",
        "USERSUITE_LIMITS__GLOBAL_BURST": "1000000",
    },
    plans.NO_INTERCEPTORS: {
        "USERSUITE_AUTH__ENABLED": "false",
        "USERSUITE_TELEMETRY__ACCESS_LOG": "false",
        "USERSUITE_TELEMETRY__METRICS": "false",
        **_skip("errors", "tracing", "observability", "deadline", "request_guard"),
    },
}


def pricing(stack: Stack, ghz: Ghz, url: str) -> list[Row]:
    """GetUser with each interceptor taken out (or rate limiting put in), one at a time.

    The servers start side by side; each variant then takes the load in runs alternating with
    a full-stack server, and its ratio is to that paired full stack.
    """
    stack.migrate(url)
    servers = {name: stack.launch("serve-pricing", url, **LAYER_SETTINGS[name])
               for name in plans.PRICING}  # fmt: skip
    full = stack.launch("serve-pricing-full", url)
    rows = []
    try:
        full_port = full.port()
        metadata = stack.metadata()
        full_call = Call("GetUser", {"name": stack.seed_users(full_port, 1)[0]}, metadata)
        for name, server in servers.items():
            port = server.port()
            call = Call("GetUser", {"name": stack.seed_users(port, 1)[0]}, metadata)
            variant, paired = ghz.measure_paired(
                (f"127.0.0.1:{port}", call), (f"127.0.0.1:{full_port}", full_call)
            )
            server.stop()
            rows.append(stats_row("interceptors", name, variant, paired))
            rows[-1].note = f"paired full stack: {paired.rps:,.0f} rps"
            if name == plans.NO_INTERCEPTORS:
                # The stack's share of a GetUser's time: 1 - t(none) / t(full).
                share = 100 * (1 - paired.rps / variant.rps)
                rows.append(Row("interceptors", plans.STACK_SHARE, "%", share,
                                note="from the paired runs above"))  # fmt: skip
    finally:
        full.stop()
        for server in servers.values():
            server.stop()
    return rows


def workers(stack: Stack, ghz: Ghz, url: str) -> list[Row]:
    """`serve --workers 1` on core 0 beside `--workers 2` on both cores, in alternating runs.

    This machine has two cores, so the two workers share core 1 with ghz: a floor on scaling.
    """
    stack.migrate(url)
    one = stack.launch("serve-workers-1", url, "--workers", "1")
    two = stack.launch("serve-workers-2", url, "--workers", "2", cpus="0,1")
    try:
        metadata = stack.metadata()
        calls = []
        for server in (one, two):
            port = server.port()
            user = {"name": stack.seed_users(port, 1)[0]}
            calls.append((f"127.0.0.1:{port}", Call("GetUser", user, metadata)))
        single, double = ghz.measure_paired(calls[0], calls[1])
    finally:
        one.stop()
        two.stop()
    rows = [
        stats_row("workers", plans.WORKERS_1, single),
        stats_row("workers", plans.WORKERS_2, double, single),
    ]
    rows[1].note = "2 workers on cores 0-1, ghz on core 1 too"
    return rows
