"""API scenarios: the ceiling, the three calls on both databases, interceptor pricing, workers."""

from collections.abc import Callable

from bench import plans
from bench.ghz import Call, Ghz
from bench.processes import running, say
from bench.report import NOT_IMPLEMENTED, Row
from bench.stack import Stack

SEED_USERS = 60
CREATE = {"user": {"display_name": "Bench User", "email": "bench-{{newUUID}}@example.com"}}
PAGE = {"page_size": 50}


def measured_row(group: str, name: str, ghz: Ghz, target: str, call: Call) -> Row:
    stats = ghz.measure(target, call)
    say(f"{name}: {stats.rps:,.0f} rps, p50 {stats.p50_ms:.1f} ms, p99 {stats.p99_ms:.1f} ms")
    # Each timed run ends by cutting the calls in flight; more failures than that are news.
    cut = ghz.load.runs * ghz.load.concurrency
    note = f"{stats.errors} failed calls" if stats.errors > cut else ""
    return Row(group, name, "rps", stats.rps, stats.p50_ms, stats.p99_ms, note=note)


def ceiling(stack: Stack, ghz: Ghz) -> list[Row]:
    with running(stack.ceiling()) as server:
        call = Call("GetUser", {"name": "users/ada"}, {})
        return [measured_row("ceiling", plans.CEILING, ghz, f"127.0.0.1:{server.port()}", call)]


def calls(
    stack: Stack, ghz: Ghz, database: str, url: str, rss: Callable[[float], None]
) -> list[Row]:
    """GetUser, ListUsers (50) and CreateUser against one full-stack server."""
    names = {
        "PostgreSQL": (plans.GET_PG, plans.LIST_PG, plans.CREATE_PG),
        "SQLite": (plans.GET_SQLITE, plans.LIST_SQLITE, plans.CREATE_SQLITE),
    }[database]
    with running(stack.serve(f"serve-{database}", url)) as server:
        port = server.port()
        target = f"127.0.0.1:{port}"
        someone = stack.seed_users(port, SEED_USERS)[0]
        metadata = stack.metadata()
        rows = [
            measured_row(
                "API", names[0], ghz, target, Call("GetUser", {"name": someone}, metadata)
            ),
            measured_row("API", names[1], ghz, target, Call("ListUsers", PAGE, metadata)),
            measured_row("API", names[2], ghz, target, Call("CreateUser", CREATE, metadata)),
        ]
        rss(server.peak_rss_mb())
    return rows


# The settings that take one layer out today; the others wait for bench-only knobs.
LAYER_SETTINGS: dict[str, dict[str, str]] = {
    plans.AUTH_OFF: {"USERSUITE_AUTH__ENABLED": "false"},
    plans.OBSERVABILITY_OFF: {
        "USERSUITE_TELEMETRY__ACCESS_LOG": "false",
        "USERSUITE_TELEMETRY__METRICS": "false",
    },
    plans.RATE_LIMIT_ON: {
        "USERSUITE_LIMITS__RATE_LIMIT_ENABLED": "true",
        "USERSUITE_LIMITS__PRINCIPAL_RATE_PER_SECOND": "1000000",
        "USERSUITE_LIMITS__PRINCIPAL_BURST": "1000000",
        "USERSUITE_LIMITS__GLOBAL_RATE_PER_SECOND": "1000000",
        "USERSUITE_LIMITS__GLOBAL_BURST": "1000000",
    },
}


def pricing(stack: Stack, ghz: Ghz, url: str) -> list[Row]:
    """GetUser with each interceptor taken out (or rate limiting put in), one at a time.

    The servers start side by side; each variant then takes the load in runs alternating with
    a full-stack server, and its ratio is to that paired full stack.
    """
    stack.migrate(url)
    servers = {
        name: stack.launch("serve-pricing", url, **settings)
        for name, settings in LAYER_SETTINGS.items()
    }
    full = stack.launch("serve-pricing-full", url)
    rows = []
    try:
        full_port = full.port()
        metadata = stack.metadata()
        full_call = Call("GetUser", {"name": stack.seed_users(full_port, 1)[0]}, metadata)
        for name in plans.PRICING:
            server = servers.get(name)
            if server is None:
                rows.append(Row("interceptors", name, note=NOT_IMPLEMENTED))
                continue
            port = server.port()
            call = Call("GetUser", {"name": stack.seed_users(port, 1)[0]}, metadata)
            variant, paired = ghz.measure_paired(
                (f"127.0.0.1:{port}", call), (f"127.0.0.1:{full_port}", full_call)
            )
            server.stop()
            say(f"{name}: {variant.rps:,.0f} rps beside full stack {paired.rps:,.0f} rps")
            rows.append(
                Row("interceptors", name, "rps", variant.rps, variant.p50_ms, variant.p99_ms,
                    note=f"{variant.rps / paired.rps:.2f}× the paired full stack "
                    f"({paired.rps:,.0f} rps)")
            )  # fmt: skip
    finally:
        full.stop()
        for server in servers.values():
            server.stop()
    rows.append(Row("interceptors", plans.STACK_SHARE, unit="%", note=NOT_IMPLEMENTED))
    return rows


def workers(rows: list[Row]) -> list[Row]:
    """`serve --workers N`: N = 1 is the plain server measured above."""
    single = next(row for row in rows if row.scenario == plans.GET_PG)
    return [
        Row("workers", plans.WORKERS_1, "rps", single.value, single.p50_ms, single.p99_ms,
            note="the GetUser (PostgreSQL) run"),
        Row("workers", plans.WORKERS_2, note=NOT_IMPLEMENTED),
    ]  # fmt: skip
